// unet/unet_config.hpp: the UNet's config (unet/config.json).
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

// diffusers UNet2DConditionModel (unet/config.json).
struct UNetConfig {
  int64_t sample_size = 64;  // latent pixels; image size = sample_size * vae scale factor
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
  // Transformer2DModel depth per down block (int in the file -> repeated per block). Up block i
  // uses the reversed list's entry i and the mid block the last entry, as diffusers does (SDXL base:
  // [1, 2, 10]).
  std::vector<int64_t> transformer_layers_per_block{1, 1, 1, 1};
  // Number of attention HEADS per down block (diffusers' historical name "attention_head_dim"; an
  // explicit "num_attention_heads" wins). int in the file -> repeated per block.
  std::vector<int64_t> attention_heads{8, 8, 8, 8};
  bool use_linear_projection = false;  // Transformer2DModel proj_in/out Linear (SD 2.x) vs 1x1 conv
  bool upcast_attention = false;       // attention scores in float32 (matters in f16/bf16)
  bool only_cross_attention = false;   // must be false (not used by SD 1.x/2.x)
  int64_t conv_in_kernel = 3;
  int64_t conv_out_kernel = 3;
  // SDXL's added embedding: "" (none) or "text_time": Timesteps(addition_time_embed_dim) of the 6
  // add_time_ids, concatenated after the pooled text embeddings, through a TimestepEmbedding from
  // projection_class_embeddings_input_dim (= 6 * addition_time_embed_dim + pooled width) channels.
  std::string addition_embed_type;
  int64_t addition_time_embed_dim = 0;
  int64_t projection_class_embeddings_input_dim = 0;

  bool has_text_time() const { return addition_embed_type == "text_time"; }
  // The pooled text embeddings' width the text_time embedding expects (0 without it).
  int64_t pooled_text_dim() const {
    return has_text_time() ? projection_class_embeddings_input_dim - kTimeIds * addition_time_embed_dim : 0;
  }
  static constexpr int64_t kTimeIds = 6;  // original h, w, crop top, left, target h, w

  int64_t time_embed_dim() const { return block_out_channels.front() * 4; }
  static UNetConfig from_json(const nlohmann::json& j, const std::string& file);
};

}  // namespace ftdr::torchbe
