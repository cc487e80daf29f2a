// io/checkpoint_config.hpp: the network configs of a single-file checkpoint, from its keys and
// tensor shapes (never its file name).
//
//   ShapeMap shapes = shapes_of(file);
//   std::vector<std::string> problems;
//   UNetConfig unet = infer_unet_config(shapes, ckpt_prefix::unet, TextEncoderKind::open_clip, problems);
//
// What shapes give: channels, levels, layers per block, which blocks have attention, transformer
// depth, cross-attention (context) width, linear vs 1x1-conv proj_in, latent channels, CLIP widths,
// layers, vocabulary and positions. What they cannot give is the number of attention heads; that
// follows the family, as the original LDM configs say (v1-inference.yaml: num_heads 8;
// v2-inference.yaml: num_head_channels 64; CLIP ViT-L and OpenCLIP ViT-H: 64 channels per head).
// SD 2.x also gets upcast_attention (it overflows in f16 without) and runs the penultimate OpenCLIP
// block (num_hidden_layers = stored blocks - 1, as FrozenOpenCLIPEmbedder(layer="penultimate")).
// SDXL (sgm's sd_xl_base.yaml): num_head_channels 64, transformer depth per level (counted), the
// text_time embedding (label_emb.0.0: 6 x addition_time_embed_dim + the pooled width, which is
// text_encoder_2's projection), sample_size 128 (1024 px); its OpenCLIP ViT-bigG keeps every block
// (diffusers' SDXL text_encoder_2 has all 32 layers and takes hidden_states[-2] itself), and
// text_projection gives projection_dim.
// A key the inference needs but that is absent is added to `problems` (stored name), not thrown:
// the caller lists every problem in one error.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "clip/clip_text_config.hpp"
#include "io/safetensors.hpp"
#include "unet/unet_config.hpp"
#include "vae/vae_config.hpp"

namespace ftdr::torchbe {

// The text encoder layout, which is also the family: SD 1.x (CLIP ViT-L, transformers names) or
// SD 2.x (OpenCLIP ViT-H).
enum class TextEncoderKind { clip, open_clip };

using ShapeMap = std::map<std::string, std::vector<int64_t>>;

ShapeMap shapes_of(const SafeTensorsFile& file);

UNetConfig infer_unet_config(const ShapeMap& shapes, const std::string& prefix, TextEncoderKind family,
                             bool v_prediction, std::vector<std::string>& problems);
VaeConfig infer_vae_config(const ShapeMap& shapes, const std::string& prefix,
                           std::vector<std::string>& problems);
// `prefix`: cond_stage_model.transformer.text_model. (or without text_model.) for clip,
// cond_stage_model.model. for open_clip.
CLIPTextConfig infer_text_config(const ShapeMap& shapes, const std::string& prefix, TextEncoderKind kind,
                                 std::vector<std::string>& problems);

// SDXL: text_encoder_2 (conditioner.embedders.1.model.) and the UNet, whose text_time embedding
// takes `pooled_dim` (text_encoder_2's projection_dim) pooled channels.
CLIPTextConfig infer_sdxl_text_config_2(const ShapeMap& shapes, const std::string& prefix,
                                        std::vector<std::string>& problems);
UNetConfig infer_sdxl_unet_config(const ShapeMap& shapes, const std::string& prefix, int64_t pooled_dim,
                                  std::vector<std::string>& problems);

}  // namespace ftdr::torchbe
