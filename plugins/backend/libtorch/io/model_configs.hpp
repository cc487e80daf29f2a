// io/model_configs.hpp: the component configs of a diffusers Stable Diffusion folder (SD 1.x / 2.x).
//
// Plain structs; every field has the library's default (diffusers 0.31 / transformers 4.30) so a
// config.json that omits a key reads exactly as the Python libraries read it.
//
//   auto cfg = UNetConfig::from_json(nlohmann::json::parse(text), "unet/config.json");
//
// from_json() throws sdk::Error(model_error) naming the file and the key when a value has the wrong
// type or is something these networks do not implement (an unknown block type, class_embed_type,
// addition_embed_type, a time_embedding_type other than positional, ...): an unsupported model is
// refused up front, never run into a wrong image. Keys these structs do not list are ignored only
// when the Python library ignores them too (bookkeeping such as _class_name, _diffusers_version).
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace ftdr::torchbe {

// transformers CLIPTextConfig (text_encoder/config.json).
struct CLIPTextConfig {
  int64_t vocab_size = 49408;
  int64_t hidden_size = 512;
  int64_t intermediate_size = 2048;
  int64_t num_hidden_layers = 12;
  int64_t num_attention_heads = 8;
  int64_t max_position_embeddings = 77;
  std::string hidden_act = "quick_gelu";  // "quick_gelu" (SD 1.x) or "gelu" (SD 2.x)
  double layer_norm_eps = 1e-5;
  int64_t pad_token_id = 1;
  int64_t bos_token_id = 49406;
  // 2 = the legacy pooling path (argmax of input ids), as in the SD 1.x/2.x configs.
  int64_t eos_token_id = 49407;

  static CLIPTextConfig from_json(const nlohmann::json& j, const std::string& file);
};

// diffusers UNet2DConditionModel (unet/config.json).
struct UNetConfig {
  int64_t sample_size = 64;   // latent pixels; image size = sample_size * vae scale factor
  int64_t in_channels = 4;
  int64_t out_channels = 4;
  bool center_input_sample = false;
  bool flip_sin_to_cos = true;
  double freq_shift = 0;
  std::vector<std::string> down_block_types{"CrossAttnDownBlock2D", "CrossAttnDownBlock2D",
                                            "CrossAttnDownBlock2D", "DownBlock2D"};
  std::string mid_block_type = "UNetMidBlock2DCrossAttn";
  std::vector<std::string> up_block_types{"UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D",
                                          "CrossAttnUpBlock2D"};
  std::vector<int64_t> block_out_channels{320, 640, 1280, 1280};
  std::vector<int64_t> layers_per_block{2, 2, 2, 2};  // int in the file -> repeated per block
  int64_t downsample_padding = 1;
  double mid_block_scale_factor = 1.0;
  std::string act_fn = "silu";
  int64_t norm_num_groups = 32;
  double norm_eps = 1e-5;
  int64_t cross_attention_dim = 1280;
  int64_t transformer_layers_per_block = 1;
  // Number of attention HEADS per down block (diffusers' historical name "attention_head_dim"; an
  // explicit "num_attention_heads" wins). int in the file -> repeated per block.
  std::vector<int64_t> attention_heads{8, 8, 8, 8};
  bool use_linear_projection = false;  // Transformer2DModel proj_in/out Linear (SD 2.x) vs 1x1 conv
  bool upcast_attention = false;       // attention scores in float32 (matters in f16/bf16)
  bool only_cross_attention = false;   // must be false (not used by SD 1.x/2.x)
  int64_t conv_in_kernel = 3;
  int64_t conv_out_kernel = 3;

  int64_t time_embed_dim() const { return block_out_channels.front() * 4; }
  static UNetConfig from_json(const nlohmann::json& j, const std::string& file);
};

// diffusers AutoencoderKL (vae/config.json).
struct VaeConfig {
  int64_t in_channels = 3;
  int64_t out_channels = 3;
  std::vector<std::string> down_block_types{"DownEncoderBlock2D"};
  std::vector<std::string> up_block_types{"UpDecoderBlock2D"};
  std::vector<int64_t> block_out_channels{64};
  int64_t layers_per_block = 1;
  std::string act_fn = "silu";
  int64_t latent_channels = 4;
  int64_t norm_num_groups = 32;
  int64_t sample_size = 32;       // image pixels (informational)
  double scaling_factor = 0.18215;
  bool force_upcast = true;       // diffusers runs this VAE in f32 when the pipeline is f16
  bool use_quant_conv = true;
  bool use_post_quant_conv = true;
  bool mid_block_add_attention = true;

  // Image pixels per latent pixel: 2^(number of down blocks - 1).
  int64_t scale_factor() const { return int64_t{1} << (block_out_channels.size() - 1); }
  static VaeConfig from_json(const nlohmann::json& j, const std::string& file);
};

}  // namespace ftdr::torchbe
