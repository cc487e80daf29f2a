// nn/resnet_block_2d.hpp: diffusers' ResnetBlock2D (time_embedding_norm "default"), shared by UNet and VAE.
//
// GroupNorm -> SiLU -> conv1 (+ time embedding projection) -> GroupNorm -> SiLU -> conv2, plus a
// 1x1 conv_shortcut when the channel count changes; (shortcut + h) / output_scale_factor.
#pragma once
#include <torch/nn.h>
#include "nn/conv_2d.hpp"
#include "nn/group_norm.hpp"
#include "nn/linear.hpp"

namespace ftdr::torchbe {

struct ResnetBlock2DOptions {
  int64_t in_channels = 0;
  int64_t out_channels = 0;   // 0 = in_channels
  int64_t temb_channels = 0;  // 0 = no time embedding input (the VAE)
  int64_t groups = 32;
  double eps = 1e-6;
  double output_scale_factor = 1.0;
};

class ResnetBlock2DImpl : public torch::nn::Module {
 public:
  explicit ResnetBlock2DImpl(const ResnetBlock2DOptions& options);
  // temb: [B, temb_channels], or undefined when temb_channels == 0. A caller that moves its last
  // reference to x in (`h = resnet(std::move(h))`) lets the block normalize x in place when only the
  // 1x1 shortcut needs it besides (GroupNormImpl::forward_owned); the result is the same either way.
  at::Tensor forward(at::Tensor x, const at::Tensor& temb = {});

  GroupNorm norm1{nullptr};
  Conv2d conv1{nullptr};
  Linear time_emb_proj{nullptr};
  GroupNorm norm2{nullptr};
  Conv2d conv2{nullptr};
  Conv2d conv_shortcut{nullptr};

 private:
  ResnetBlock2DOptions options_;
};
TORCH_MODULE(ResnetBlock2D);

}  // namespace ftdr::torchbe
