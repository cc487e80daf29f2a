// unet/cross_attn_up_block_2d.hpp: diffusers' CrossAttnUpBlock2D.
#pragma once
#include <torch/nn.h>

#include <vector>

#include "nn/resnet_block_2d.hpp"
#include "nn/upsample_2d.hpp"
#include "unet/transformer_2d_model.hpp"
#include "unet/unet_blocks.hpp"

namespace ftdr::torchbe {

class CrossAttnUpBlock2DImpl : public UpBlockBase {
 public:
  CrossAttnUpBlock2DImpl(const UNetBlockOptions& options, AttentionSettingsPtr settings);
  at::Tensor forward(const at::Tensor& x, std::vector<at::Tensor>& skips, const at::Tensor& temb,
                     const at::Tensor& context, const std::vector<int64_t>& upsample_size) override;

  torch::nn::ModuleList resnets{nullptr};
  torch::nn::ModuleList attentions{nullptr};  // empty without cross attention
  torch::nn::ModuleList upsamplers{nullptr};

 private:
  std::vector<ResnetBlock2D> resnets_;
  std::vector<Transformer2DModel> attentions_;
  Upsample2D sampler_{nullptr};
};
TORCH_MODULE(CrossAttnUpBlock2D);

}  // namespace ftdr::torchbe
