// unet/down_block_2d.hpp: diffusers' DownBlock2D.
#pragma once
#include <torch/nn.h>

#include <vector>

#include "nn/downsample_2d.hpp"
#include "nn/resnet_block_2d.hpp"
#include "unet/unet_blocks.hpp"

namespace ftdr::torchbe {

class DownBlock2DImpl : public DownBlockBase {
 public:
  DownBlock2DImpl(const UNetBlockOptions& options, AttentionSettingsPtr settings);
  std::pair<at::Tensor, std::vector<at::Tensor>> forward(const at::Tensor& x, const at::Tensor& temb,
                                                         const at::Tensor& context) override;

  torch::nn::ModuleList resnets{nullptr};
  torch::nn::ModuleList downsamplers{nullptr};

 private:
  std::vector<ResnetBlock2D> resnets_;
  Downsample2D sampler_{nullptr};
};
TORCH_MODULE(DownBlock2D);

}  // namespace ftdr::torchbe
