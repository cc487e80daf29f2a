// io/checkpoint_keys.hpp: the one table of key renames between our (diffusers/transformers) names
// and the original single-file layout (LDM / AUTOMATIC1111 checkpoints).
//
//   StoredKey k = unet_stored_key("down_blocks.0.resnets.1.norm1.weight", unet_config);
//   // k.key == "input_blocks.2.0.in_layers.0.weight" (under "model.diffusion_model.")
//
// Every function maps one of OUR parameter names to where the checkpoint stores it, relative to the
// component's prefix (CheckpointPrefixes); an empty key means "not stored in this layout". The facts
// come from diffusers' conversion code (src/diffusers/loaders/single_file_utils.py,
// scripts/convert_original_stable_diffusion_to_diffusers.py); the code is ours.
//
// Prefixes of the layouts:
//   UNet          model.diffusion_model.
//   VAE           first_stage_model.            (a separate VAE file: no prefix)
//   SD 1.x text   cond_stage_model.transformer.  transformers CLIP ViT-L: clip_stored_key
//   SD 2.x text   cond_stage_model.model.        OpenCLIP ViT-H: open_clip_stored_key (fused in_proj)
//   SDXL text     conditioner.embedders.0.transformer. CLIP ViT-L: clip_stored_key
//                 conditioner.embedders.1.model.       OpenCLIP ViT-bigG: open_clip_stored_key, with
//                                                      text_projection (open_clip_projection_stored_key)
//   SDXL UNet     model.diffusion_model., the text_time embedding as label_emb.0.{0,2}
#pragma once
#include <cstdint>
#include <string>

#include "unet/unet_config.hpp"
#include "vae/vae_config.hpp"

namespace ftdr::torchbe {

namespace ckpt_prefix {
inline constexpr const char* unet = "model.diffusion_model.";
inline constexpr const char* vae = "first_stage_model.";
inline constexpr const char* clip = "cond_stage_model.transformer.";
inline constexpr const char* open_clip = "cond_stage_model.model.";
inline constexpr const char* sdxl_embedders = "conditioner.embedders.";
inline constexpr const char* sdxl_clip = "conditioner.embedders.0.transformer.";
inline constexpr const char* sdxl_open_clip = "conditioner.embedders.1.model.";
}  // namespace ckpt_prefix

// Where one of our tensors is in the checkpoint, and how it is cut out of it.
struct StoredKey {
  std::string key;           // relative to the component prefix; empty = not in this layout
  int64_t split_index = -1;  // >= 0: rows [i * n/parts, (i+1) * n/parts) of the stored tensor
  int64_t split_parts = 1;   // (OpenCLIP's fused attn.in_proj_weight/bias holds q, k, v)
  bool squeeze_1x1 = false;  // stored as a 1x1 conv [o, i, 1, 1], ours is Linear [o, i] (VAE attention)
  bool transpose = false;    // stored as [i, o] (x @ W, OpenCLIP's text_projection), ours is Linear [o, i]
};

// UNet2DConditionModel names -> LDM openaimodel names. Needs the uniform layers_per_block and which
// up blocks have attentions (the upsampler's index inside an output block follows them).
StoredKey unet_stored_key(const std::string& key, const UNetConfig& config);

// AutoencoderKL names -> LDM autoencoder names (also the layout of A1111's separate VAE files).
StoredKey vae_stored_key(const std::string& key, const VaeConfig& config);

// transformers CLIPTextModel names -> the same names under cond_stage_model.transformer.
// (position_ids is not stored: transformers >= 4.31 does not save it, and old files hold
// corrupted copies; ours stays the arange it is built with).
StoredKey clip_stored_key(const std::string& key);

// transformers CLIPTextModel names -> OpenCLIP names (q/k/v cut from the fused in_proj).
StoredKey open_clip_stored_key(const std::string& key);

// CLIPTextModelWithProjection names -> OpenCLIP names (SDXL's second text encoder): as
// open_clip_stored_key, and text_projection.weight is the transposed text_projection.
StoredKey open_clip_projection_stored_key(const std::string& key);

// Stored keys of a layout that no network of ours reads and that are skipped on purpose (LDM's
// noise-schedule buffers, EMA copies, OpenCLIP's logit_scale/text_projection/attn_mask, the unused
// last OpenCLIP block). `open_clip_layers`: the text encoder's num_hidden_layers (its block with
// that index is the unused one); 0 for other layouts.
bool ignored_checkpoint_key(const std::string& full_key, int64_t open_clip_layers);

}  // namespace ftdr::torchbe
