// tools/demo_model_spec.cpp: configs of the demo model and fp16 export.
#include "demo_model_spec.hpp"

#include <fstream>
#include <stdexcept>

#include "io/safetensors.hpp"

namespace ftdr::demo {

DemoSpec DemoSpec::standard(int64_t vocab_size) {
  DemoSpec s;
  s.vocab_size = vocab_size;
  return s;
}

nlohmann::ordered_json DemoSpec::text_encoder_json() const {
  nlohmann::ordered_json j;
  j["architectures"] = {"CLIPTextModel"};
  j["attention_dropout"] = 0.0;
  j["bos_token_id"] = vocab_size - 2;  // <|startoftext|>, second to last in the vocabulary
  j["dropout"] = 0.0;
  j["eos_token_id"] = vocab_size - 1;  // <|endoftext|>
  j["hidden_act"] = "quick_gelu";
  j["hidden_size"] = text_hidden;
  j["initializer_factor"] = 1.0;
  j["initializer_range"] = 0.02;
  j["intermediate_size"] = text_intermediate;
  j["layer_norm_eps"] = 1e-05;
  j["max_position_embeddings"] = 77;
  j["model_type"] = "clip_text_model";
  j["num_attention_heads"] = text_heads;
  j["num_hidden_layers"] = text_layers;
  j["pad_token_id"] = 1;
  j["projection_dim"] = text_hidden;
  j["torch_dtype"] = "float16";
  j["transformers_version"] = "4.30.2";
  j["vocab_size"] = vocab_size;
  return j;
}

nlohmann::ordered_json DemoSpec::unet_json() const {
  nlohmann::ordered_json j;
  j["_class_name"] = "UNet2DConditionModel";
  j["_diffusers_version"] = "0.31.0";
  j["act_fn"] = "silu";
  j["attention_head_dim"] = unet_heads;  // diffusers' name for the number of heads
  j["block_out_channels"] = unet_channels;
  j["center_input_sample"] = false;
  j["cross_attention_dim"] = text_hidden;
  std::vector<std::string> down, up;
  for (bool attention : unet_attention) down.push_back(attention ? "CrossAttnDownBlock2D" : "DownBlock2D");
  for (auto it = unet_attention.rbegin(); it != unet_attention.rend(); ++it)
    up.push_back(*it ? "CrossAttnUpBlock2D" : "UpBlock2D");
  j["down_block_types"] = down;
  j["downsample_padding"] = 1;
  j["flip_sin_to_cos"] = true;
  j["freq_shift"] = 0;
  j["in_channels"] = 4;
  j["layers_per_block"] = unet_layers_per_block;
  j["mid_block_scale_factor"] = 1;
  j["norm_eps"] = 1e-05;
  j["norm_num_groups"] = unet_norm_groups;
  j["out_channels"] = 4;
  j["sample_size"] = 16;
  j["up_block_types"] = up;
  return j;
}

nlohmann::ordered_json DemoSpec::vae_json(double scaling_factor) const {
  nlohmann::ordered_json j;
  j["_class_name"] = "AutoencoderKL";
  j["_diffusers_version"] = "0.31.0";
  j["act_fn"] = "silu";
  j["block_out_channels"] = vae_channels;
  j["down_block_types"] = std::vector<std::string>(vae_channels.size(), "DownEncoderBlock2D");
  j["in_channels"] = 3;
  j["latent_channels"] = 4;
  j["layers_per_block"] = 1;
  j["norm_num_groups"] = vae_norm_groups;
  j["out_channels"] = 3;
  j["sample_size"] = 64;
  j["scaling_factor"] = scaling_factor;
  j["up_block_types"] = std::vector<std::string>(vae_channels.size(), "UpDecoderBlock2D");
  return j;
}

nlohmann::ordered_json DemoSpec::scheduler_json() {
  nlohmann::ordered_json j;
  j["_class_name"] = "DDIMScheduler";
  j["_diffusers_version"] = "0.31.0";
  j["beta_end"] = 0.012;
  j["beta_schedule"] = "scaled_linear";
  j["beta_start"] = 0.00085;
  j["clip_sample"] = false;
  j["num_train_timesteps"] = 1000;
  j["prediction_type"] = "epsilon";
  j["set_alpha_to_one"] = false;
  j["steps_offset"] = 1;
  j["timestep_spacing"] = "trailing";
  j["trained_betas"] = nullptr;
  return j;
}

nlohmann::ordered_json DemoSpec::model_index_json() {
  nlohmann::ordered_json j;
  j["_class_name"] = "StableDiffusionPipeline";
  j["_diffusers_version"] = "0.31.0";
  j["feature_extractor"] = {nullptr, nullptr};
  j["image_encoder"] = {nullptr, nullptr};
  j["requires_safety_checker"] = false;
  j["safety_checker"] = {nullptr, nullptr};
  j["scheduler"] = {"diffusers", "DDIMScheduler"};
  j["text_encoder"] = {"transformers", "CLIPTextModel"};
  j["tokenizer"] = {"transformers", "CLIPTokenizer"};
  j["unet"] = {"diffusers", "UNet2DConditionModel"};
  j["vae"] = {"diffusers", "AutoencoderKL"};
  return j;
}

torchbe::CLIPTextConfig DemoSpec::text_encoder_config() const {
  return torchbe::CLIPTextConfig::from_json(nlohmann::json::parse(text_encoder_json().dump()),
                                            "text_encoder/config.json");
}

torchbe::UNetConfig DemoSpec::unet_config() const {
  return torchbe::UNetConfig::from_json(nlohmann::json::parse(unet_json().dump()), "unet/config.json");
}

torchbe::VaeConfig DemoSpec::vae_config(double scaling_factor) const {
  return torchbe::VaeConfig::from_json(nlohmann::json::parse(vae_json(scaling_factor).dump()),
                                       "vae/config.json");
}

void write_json(const std::filesystem::path& path, const nlohmann::ordered_json& j) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary);
  out << j.dump(2) << "\n";
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

void write_component(const std::filesystem::path& dir, const nlohmann::ordered_json& config,
                     torch::nn::Module& module, const std::string& weights_stem) {
  write_json(dir / "config.json", config);
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  auto add = [&](const std::string& name, const at::Tensor& t) {
    at::Tensor v = t.detach().to(at::kCPU);
    if (v.is_floating_point()) v = v.to(at::kHalf);
    tensors.emplace_back(name, v.contiguous());
  };
  for (const auto& p : module.named_parameters()) add(p.key(), p.value());
  for (const auto& b : module.named_buffers()) add(b.key(), b.value());
  torchbe::save_safetensors(dir / (weights_stem + ".safetensors"), tensors);
}

}  // namespace ftdr::demo
