// unet/unet_2d_condition_model.hpp: diffusers' UNet2DConditionModel for SD 1.x, 2.x and SDXL.
//
//   UNet2DConditionModel unet(folder.unet);
//   load_module_weights(*unet, SafeTensorsFile::open(folder.unet_weights), at::kFloat);
//   at::Tensor eps = unet->forward(latents, at::scalar_tensor(999, at::kLong), text_embeddings);
//
// Blocks: DownBlock2D, CrossAttnDownBlock2D, UNetMidBlock2DCrossAttn, UpBlock2D, CrossAttnUpBlock2D
// (Transformer2DModel with conv or linear projection, its depth per level), SDXL's text_time added
// embedding (add_time_proj, add_embedding). Weight keys map one to one to diffusers'
// (down_blocks.0.attentions.1.transformer_blocks.0.attn1.to_q.weight, ...). The config is checked
// by UNetConfig::from_json; the constructor throws model_error for block types it does not know.
#pragma once
#include <torch/nn.h>

#include <memory>
#include <vector>

#include "nn/attention.hpp"
#include "nn/conv_2d.hpp"
#include "nn/group_norm.hpp"
#include "unet/timestep_embedding.hpp"
#include "unet/timesteps.hpp"
#include "unet/unet_blocks.hpp"
#include "unet/unet_config.hpp"
#include "unet/unet_mid_block_2d_cross_attn.hpp"

namespace ftdr::torchbe {

// SDXL's added conditions (UNetConfig::has_text_time), one row per UNet batch row: the pooled text
// embeddings [B, pooled_text_dim()] and add_time_ids [B, 6] (original h, w, crop top, left, target
// h, w). Unused (may be undefined) for a UNet without the text_time embedding.
struct UNetAddedConditions {
  at::Tensor text_embeds;
  at::Tensor time_ids;
};

class UNet2DConditionModelImpl : public torch::nn::Module {
 public:
  explicit UNet2DConditionModelImpl(const UNetConfig& cfg);

  // sample [B, in_channels, h, w]; timestep 0-d or [B], integer or floating (fractional timesteps
  // of Euler/LMS); encoder_hidden_states [B, 77, cross_attention_dim] -> [B, out_channels, h, w].
  // Any h, w: odd sizes are handled as diffusers does (upsampling to the skip connection's size).
  at::Tensor forward(const at::Tensor& sample, const at::Tensor& timestep,
                     const at::Tensor& encoder_hidden_states, const UNetAddedConditions& added = {});

  void set_attention(const AttentionSettings& settings) { *settings_ = settings; }
  const AttentionSettings& attention_settings() const { return *settings_; }
  const UNetConfig& config() const { return cfg_; }

  Timesteps time_proj{nullptr};
  TimestepEmbedding time_embedding{nullptr};
  Timesteps add_time_proj{nullptr};          // text_time only
  TimestepEmbedding add_embedding{nullptr};  // text_time only
  Conv2d conv_in{nullptr};
  torch::nn::ModuleList down_blocks{nullptr};
  UNetMidBlock2DCrossAttn mid_block{nullptr};
  torch::nn::ModuleList up_blocks{nullptr};
  GroupNorm conv_norm_out{nullptr};
  Conv2d conv_out{nullptr};

 private:
  void build_down_blocks();
  at::Tensor text_time_embedding(const UNetAddedConditions& added, int64_t batch, at::ScalarType dtype);
  void build_up_blocks();

  UNetConfig cfg_;
  AttentionSettingsPtr settings_;
  std::vector<std::shared_ptr<DownBlockBase>> down_;
  std::vector<std::shared_ptr<UpBlockBase>> up_;
  std::vector<int64_t> up_layers_;  // resnets (= skip connections consumed) per up block
};
TORCH_MODULE(UNet2DConditionModel);

}  // namespace ftdr::torchbe
