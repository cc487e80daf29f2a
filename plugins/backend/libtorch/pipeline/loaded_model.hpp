// pipeline/loaded_model.hpp: a model (folder or single file) loaded into memory: tokenizer(s) + the
// networks (three; four for SDXL, whose second text encoder is the component "text_encoder_2").
//
//   LoadedModel m = load_model("models/tiny-sd1", at::kFloat);   // weights on the CPU
//   m.place("unet", at::Device(at::kCUDA, 0));
//
// Loading is strict (io/weights.hpp): missing, unexpected or mis-shaped tensors are one model_error
// naming the file. Components are moved whole with Module::to(); sizes count parameters and buffers
// at their current dtype.
#pragma once
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <torch/nn.h>

#include "clip/clip_text_model.hpp"
#include "clip/clip_text_model_with_projection.hpp"
#include "ftdr/sdk/types.hpp"
#include "io/model_folder.hpp"
#include "tokenizer/clip_tokenizer.hpp"
#include "unet/unet_2d_condition_model.hpp"
#include "vae/autoencoder_kl.hpp"

namespace ftdr::torchbe {

struct LoadedModel {
  ModelFolder folder;
  CLIPTokenizer tokenizer;
  CLIPTextModel text_encoder{nullptr};
  // SDXL only (folder.is_sdxl()): the second tokenizer and text encoder.
  std::optional<CLIPTokenizer> tokenizer_2;
  CLIPTextModelWithProjection text_encoder_2{nullptr};
  UNet2DConditionModel unet{nullptr};
  AutoencoderKL vae{nullptr};
  at::ScalarType dtype = at::kFloat;

  // The components of this model: "text_encoder", ("text_encoder_2" for SDXL,) "unet", "vae".
  std::vector<std::string> component_names() const;
  // One of component_names(); sdk::Error(invalid_request) naming the name otherwise.
  torch::nn::Module& component(const std::string& name);
  const torch::nn::Module& component(const std::string& name) const;
  // Where the component's parameters are now.
  at::Device location(const std::string& name) const;
  void place(const std::string& name, const at::Device& device);
  // The components with exact parameter + buffer bytes and location.
  std::vector<sdk::ComponentInfo> components() const;
};

// The components a model folder describes (LoadedModel::component_names()).
std::vector<std::string> component_names(const ModelFolder& folder);

// Reads the folder or single-file checkpoint (io/single_file.hpp), builds the networks and loads
// weights to the CPU at `dtype`. Every problem is an sdk::Error(model_error) naming the file.
LoadedModel load_model(const std::filesystem::path& path, at::ScalarType dtype,
                       const ModelOptions& options = {});

// Casts the floating parameters and buffers to `dtype` in place; integer buffers (CLIP's
// position_ids) keep theirs, which Module::to(dtype) would not do.
void cast_floating(torch::nn::Module& module, at::ScalarType dtype);

// Bytes of every parameter and buffer of a module (recursively), at their current dtype.
std::uint64_t module_bytes(const torch::nn::Module& module);

}  // namespace ftdr::torchbe
