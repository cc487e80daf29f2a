// io/model_folder.hpp: locate and read a diffusers Stable Diffusion pipeline folder.
//
//   ModelFolder folder = read_model_folder("models/tiny-sd1");
//   CLIPTextModel te(folder.text_encoder);
//   load_module_weights(*te, SafeTensorsFile::open(folder.text_encoder_weights), at::kFloat);
//
// Layout (runwayml/stable-diffusion-v1-5): model_index.json, scheduler/scheduler_config.json,
// text_encoder/{config.json, model.safetensors}, tokenizer/{vocab.json, merges.txt, ...},
// unet/{config.json, diffusion_pytorch_model.safetensors}, vae/{config.json, ...}. SDXL
// (stabilityai/stable-diffusion-xl-base-1.0, model_index.json naming text_encoder_2) adds
// text_encoder_2/ (CLIPTextModelWithProjection) and tokenizer_2/; its UNet's cross_attention_dim is
// the two encoders' widths together and its text_time embedding takes text_encoder_2's projection.
// Weights are found as diffusion_pytorch_model.safetensors or model.safetensors, also with the
// .fp16.safetensors variant (the plain file wins when both exist). Only weights' paths are resolved
// here; nothing is loaded. A missing folder or file, bad JSON or an unsupported config value is an
// sdk::Error(model_error) naming the path (and the key).
#pragma once
#include <nlohmann/json.hpp>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "clip/clip_text_config.hpp"
#include "unet/unet_config.hpp"
#include "vae/vae_config.hpp"

namespace ftdr::torchbe {

struct CheckpointFiles;  // io/single_file.hpp

// What a model is read from besides its path ([model] vae, config, prediction_type; --vae).
struct ModelOptions {
  std::filesystem::path vae;     // a separate VAE file; empty = the model's own
  std::filesystem::path config;  // a diffusers folder whose configs describe a single file
  std::string prediction_type;   // "epsilon" | "v_prediction"; empty = the model's (or its sidecar .yaml)
};

// A diffusers folder or (io/single_file.hpp) a single-file checkpoint, described the same way.
struct ModelFolder {
  std::filesystem::path root;  // the folder, or the single file
  nlohmann::json model_index;
  CLIPTextConfig text_encoder;
  UNetConfig unet;
  VaeConfig vae;
  nlohmann::json scheduler_config;
  std::filesystem::path tokenizer_dir, text_encoder_weights, unet_weights, vae_weights;
  // SDXL (StableDiffusionXLPipeline): the second text encoder (CLIPTextModelWithProjection), its
  // tokenizer and weights; the UNet then has the text_time embedding. Absent for SD 1.x / 2.x.
  std::optional<CLIPTextConfig> text_encoder_2;
  std::filesystem::path tokenizer_2_dir, text_encoder_2_weights;
  // model_index.json force_zeros_for_empty_prompt (diffusers' default true for SDXL): an empty
  // negative prompt conditions on zeros instead of the encoded "".
  bool force_zeros_for_empty_prompt = false;
  bool is_sdxl() const { return text_encoder_2.has_value(); }
  // Set for a single-file checkpoint or a separate VAE: where the weights are and how they are named.
  std::shared_ptr<const CheckpointFiles> checkpoint;
  // Set for a single file: every file it was read from (the model identity's inputs).
  std::vector<std::filesystem::path> files_read;
  // The folder the component configs were read from: root for a folder, [model] config for a
  // single file (empty: inferred from its shapes).
  std::filesystem::path config_root;
  // Where each network's config came from, for messages ("<root>/unet/config.json" for a folder).
  std::string config_name(const std::string& component) const;
};

ModelFolder read_model_folder(const std::filesystem::path& root);

// The UNet's cross_attention_dim and text_time embedding against the text encoder(s) (model_error
// naming the UNet config).
void check_text_encoders_fit_unet(const ModelFolder& model);

// Reads and parses a JSON file; model_error naming the path when missing or malformed.
nlohmann::json read_json_file(const std::filesystem::path& path);

// The weights file of one component folder (see above); model_error naming the folder when none.
std::filesystem::path find_weights_file(const std::filesystem::path& component_dir);

}  // namespace ftdr::torchbe
