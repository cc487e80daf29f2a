// vae/vae_config.hpp: the VAE's config (vae/config.json).
//
// A plain struct; every field has the library's default (diffusers 0.31 / transformers 4.30) so a
// config.json that omits a key reads exactly as the Python library reads it. from_json() throws
// sdk::Error(model_error) naming the file and the key when a value has the wrong type, is out of
// range, or asks for something this network does not implement: an unsupported model is refused
// up front, never run into a wrong image. Keys not listed are ignored only when the Python library
// ignores them too (bookkeeping such as _class_name, _diffusers_version).
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace ftdr::torchbe {

// diffusers' Encoder and Decoder use resnet_eps 1e-6 in every norm, whatever the config says.
inline constexpr double kVaeNormEps = 1e-6;

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
  int64_t sample_size = 32;  // image pixels (informational)
  double scaling_factor = 0.18215;
  bool force_upcast = true;  // diffusers runs this VAE in f32 when the pipeline is f16
  bool use_quant_conv = true;
  bool use_post_quant_conv = true;
  bool mid_block_add_attention = true;

  // Image pixels per latent pixel: 2^(number of down blocks - 1).
  int64_t scale_factor() const { return int64_t{1} << (block_out_channels.size() - 1); }
  static VaeConfig from_json(const nlohmann::json& j, const std::string& file);
};

}  // namespace ftdr::torchbe
