// unet/up_block_2d.hpp: diffusers' UpBlock2D.
#pragma once
#include <torch/nn.h>

#include <vector>

#include "nn/resnet_block_2d.hpp"
#include "nn/upsample_2d.hpp"
#include "unet/unet_blocks.hpp"

namespace ftdr::torchbe {

class UpBlock2DImpl : public UpBlockBase {
 public:
  UpBlock2DImpl(const UNetBlockOptions& options, AttentionSettingsPtr settings);
  at::Tensor forward(const at::Tensor& x, std::vector<at::Tensor>& skips, const at::Tensor& temb,
                     const at::Tensor& context, const std::vector<int64_t>& upsample_size) override;

  torch::nn::ModuleList resnets{nullptr};
  torch::nn::ModuleList upsamplers{nullptr};

 private:
  std::vector<ResnetBlock2D> resnets_;
  Upsample2D sampler_{nullptr};
};
TORCH_MODULE(UpBlock2D);

}  // namespace ftdr::torchbe
