// io/model_folder.hpp: locate and read a diffusers Stable Diffusion pipeline folder.
//
//   ModelFolder folder = read_model_folder("models/tiny-sd1");
//   CLIPTextModel te(folder.text_encoder);
//   load_module_weights(*te, SafeTensorsFile::open(folder.text_encoder_weights), at::kFloat);
//
// Layout (runwayml/stable-diffusion-v1-5): model_index.json, scheduler/scheduler_config.json,
// text_encoder/{config.json, model.safetensors}, tokenizer/{vocab.json, merges.txt, ...},
// unet/{config.json, diffusion_pytorch_model.safetensors}, vae/{config.json, ...}.
// Weights are found as diffusion_pytorch_model.safetensors or model.safetensors, also with the
// .fp16.safetensors variant (the plain file wins when both exist). Only weights' paths are resolved
// here; nothing is loaded. A missing folder or file, bad JSON or an unsupported config value is an
// sdk::Error(model_error) naming the path (and the key).
#pragma once
#include <nlohmann/json.hpp>

#include <filesystem>

#include "clip/clip_text_config.hpp"
#include "unet/unet_config.hpp"
#include "vae/vae_config.hpp"

namespace ftdr::torchbe {

struct ModelFolder {
  std::filesystem::path root;
  nlohmann::json model_index;
  CLIPTextConfig text_encoder;
  UNetConfig unet;
  VaeConfig vae;
  nlohmann::json scheduler_config;
  std::filesystem::path tokenizer_dir, text_encoder_weights, unet_weights, vae_weights;
};

ModelFolder read_model_folder(const std::filesystem::path& root);

// Reads and parses a JSON file; model_error naming the path when missing or malformed.
nlohmann::json read_json_file(const std::filesystem::path& path);

// The weights file of one component folder (see above); model_error naming the folder when none.
std::filesystem::path find_weights_file(const std::filesystem::path& component_dir);

}  // namespace ftdr::torchbe
