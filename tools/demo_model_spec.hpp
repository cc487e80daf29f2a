// tools/demo_model_spec.hpp: the architecture of the embedded demo model "ftdr-shapes" and the
// writing of its diffusers folder.
//
//   DemoSpec spec = DemoSpec::standard(vocab_size);
//   torchbe::AutoencoderKL vae(spec.vae_config());       // the backend's own modules
//   ...train...
//   write_component(out / "vae", spec.vae_json(scaling_factor), *vae, "diffusion_pytorch_model");
//
// Every config is built as the JSON the folder will hold and read back through the backend's
// from_json(), so the trainer constructs exactly the networks that `ftdr generate` will load.
#pragma once
#include <torch/nn.h>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "clip/clip_text_config.hpp"
#include "unet/unet_config.hpp"
#include "vae/vae_config.hpp"

namespace ftdr::demo {

struct DemoSpec {
  int64_t vocab_size = 0;
  // Text encoder (CLIP architecture).
  int64_t text_hidden = 64, text_layers = 2, text_heads = 4, text_intermediate = 256;
  // UNet on 4x16x16 latents.
  std::vector<int64_t> unet_channels{64, 128};
  int64_t unet_layers_per_block = 1, unet_heads = 4, unet_norm_groups = 32;
  // Per level (outermost first): true = CrossAttn{Down,Up}Block2D, false = plain {Down,Up}Block2D.
  std::vector<bool> unet_attention{false, true};
  // VAE: three blocks = downsampling factor 4 (64x64 RGB <-> 4x16x16).
  std::vector<int64_t> vae_channels{16, 32, 64};
  int64_t vae_norm_groups = 8;

  static DemoSpec standard(int64_t vocab_size);

  nlohmann::ordered_json text_encoder_json() const;
  nlohmann::ordered_json unet_json() const;
  nlohmann::ordered_json vae_json(double scaling_factor) const;
  // DDIM, SD's scaled_linear betas, "trailing" spacing (good in few steps).
  static nlohmann::ordered_json scheduler_json();
  static nlohmann::ordered_json model_index_json();

  torchbe::CLIPTextConfig text_encoder_config() const;
  torchbe::UNetConfig unet_config() const;
  torchbe::VaeConfig vae_config(double scaling_factor = 1.0) const;
};

// Writes <dir>/config.json and <dir>/<weights_stem>.safetensors holding every parameter and buffer
// of `module` under its named_parameters()/named_buffers() names; floating tensors as float16.
void write_component(const std::filesystem::path& dir, const nlohmann::ordered_json& config,
                     torch::nn::Module& module, const std::string& weights_stem);

void write_json(const std::filesystem::path& path, const nlohmann::ordered_json& j);

}  // namespace ftdr::demo
