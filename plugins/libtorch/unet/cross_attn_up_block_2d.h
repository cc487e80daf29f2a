// unet/cross_attn_up_block_2d.h: diffusers' CrossAttnUpBlock2D.
#pragma once
#include <torch/nn.h>

#include <vector>

#include "nn/upsample_2d.h"
#include "nn/resnet_block_2d.h"
#include "unet/transformer_2d_model.h"
#include "unet/unet_blocks.h"

namespace ftdr::torchbe {

class CrossAttnUpBlock2DImpl : public UpBlockBase {
 public:
  CrossAttnUpBlock2DImpl(const UNetBlockOptions& options, AttentionSettingsPtr settings);
  at::Tensor forward(const at::Tensor& x, std::vector<at::Tensor>& skips, const at::Tensor& temb,
                     const at::Tensor& context, const std::vector<int64_t>& upsample_size) override;

  torch::nn::ModuleList resnets{nullptr};
  torch::nn::ModuleList attentions{nullptr};    // empty without cross attention
  torch::nn::ModuleList upsamplers{nullptr};

 private:
  std::vector<ResnetBlock2D> resnets_;
  std::vector<Transformer2DModel> attentions_;
  Upsample2D sampler_{nullptr};
};
TORCH_MODULE(CrossAttnUpBlock2D);

}  // namespace ftdr::torchbe
