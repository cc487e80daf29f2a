// unet/cross_attn_down_block_2d.hpp: diffusers' CrossAttnDownBlock2D.
#pragma once
#include <torch/nn.h>

#include <vector>

#include "nn/downsample_2d.hpp"
#include "nn/resnet_block_2d.hpp"
#include "unet/transformer_2d_model.hpp"
#include "unet/unet_blocks.hpp"

namespace ftdr::torchbe {

class CrossAttnDownBlock2DImpl : public DownBlockBase {
 public:
  CrossAttnDownBlock2DImpl(const UNetBlockOptions& options, AttentionSettingsPtr settings);
  std::pair<at::Tensor, std::vector<at::Tensor>> forward(const at::Tensor& x, const at::Tensor& temb,
                                                         const at::Tensor& context) override;

  torch::nn::ModuleList resnets{nullptr};
  torch::nn::ModuleList attentions{nullptr};  // empty without cross attention
  torch::nn::ModuleList downsamplers{nullptr};

 private:
  std::vector<ResnetBlock2D> resnets_;
  std::vector<Transformer2DModel> attentions_;
  Downsample2D sampler_{nullptr};
};
TORCH_MODULE(CrossAttnDownBlock2D);

}  // namespace ftdr::torchbe
