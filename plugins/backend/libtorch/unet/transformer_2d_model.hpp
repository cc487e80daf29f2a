// unet/transformer_2d_model.hpp: diffusers' Transformer2DModel for continuous (image) input.
//
// GroupNorm(eps 1e-6) -> proj_in (1x1 conv, or Linear after flattening when use_linear_projection,
// SD 2.x) -> BasicTransformerBlocks over the H*W tokens -> proj_out -> + input.
#pragma once
#include <torch/nn.h>

#include <vector>

#include "nn/conv_2d.hpp"
#include "nn/group_norm.hpp"
#include "nn/linear.hpp"
#include "unet/basic_transformer_block.hpp"

namespace ftdr::torchbe {

struct Transformer2DModelOptions {
  int64_t in_channels = 0;
  int64_t heads = 8;
  int64_t dim_head = 64;
  int64_t num_layers = 1;
  int64_t cross_attention_dim = 768;
  int64_t norm_num_groups = 32;
  bool use_linear_projection = false;
  bool upcast_attention = false;
};

class Transformer2DModelImpl : public torch::nn::Module {
 public:
  Transformer2DModelImpl(const Transformer2DModelOptions& options, AttentionSettingsPtr settings);
  at::Tensor forward(const at::Tensor& x, const at::Tensor& context);

  GroupNorm norm{nullptr};
  std::shared_ptr<torch::nn::Module> proj_in, proj_out;  // Conv2d or Linear, see typed members
  torch::nn::ModuleList transformer_blocks{nullptr};

 private:
  Transformer2DModelOptions options_;
  Conv2d conv_in_{nullptr}, conv_out_{nullptr};
  Linear linear_in_{nullptr}, linear_out_{nullptr};
  std::vector<BasicTransformerBlock> blocks_;
};
TORCH_MODULE(Transformer2DModel);

}  // namespace ftdr::torchbe
