// unet/unet_blocks.hpp: what the UNet's down and up blocks share: their options and interfaces.
//
// The UNet holds its blocks in ModuleLists (so weight keys read down_blocks.1.attentions.0...) and
// calls them through these interfaces, without string lookups. Options are filled by
// UNet2DConditionModel from UNetConfig exactly as diffusers' get_down_block/get_up_block do.
#pragma once
#include <torch/nn.h>

#include <memory>
#include <vector>

#include "nn/attention.hpp"
#include "nn/resnet_block_2d.hpp"
#include "unet/transformer_2d_model.hpp"

namespace ftdr::torchbe {

struct UNetBlockOptions {
  int64_t num_layers = 2;  // resnets per block (up blocks: layers_per_block + 1)
  int64_t in_channels = 0;
  int64_t out_channels = 0;
  int64_t prev_output_channel = 0;  // up blocks: channels coming from the block below
  int64_t temb_channels = 0;
  bool add_sample = false;  // add_downsample / add_upsample
  double eps = 1e-5;        // resnet GroupNorm eps (config norm_eps)
  int64_t groups = 32;      // GroupNorm groups (config norm_num_groups)
  double output_scale_factor = 1.0;
  int64_t downsample_padding = 1;
  // Cross-attention blocks only.
  int64_t heads = 8;
  int64_t transformer_layers = 1;
  int64_t cross_attention_dim = 768;
  bool use_linear_projection = false;
  bool upcast_attention = false;
};

// The i-th resnet of a down block: the first takes in_channels, the rest out_channels.
ResnetBlock2DOptions down_resnet_options(const UNetBlockOptions& o, int64_t i);

// The i-th resnet of an up block: its input is the previous output concatenated with a skip state;
// the last resnet's skip comes from before this level's down block (in_channels wide).
ResnetBlock2DOptions up_resnet_options(const UNetBlockOptions& o, int64_t i);

// The Transformer2DModel of a cross-attention block with `channels` channels (head dim = channels / heads).
Transformer2DModelOptions transformer_options(const UNetBlockOptions& o, int64_t channels);

class DownBlockBase : public torch::nn::Module {
 public:
  // Returns the block output and the states its up-block partner concatenates (one per resnet,
  // plus one after the downsampler).
  virtual std::pair<at::Tensor, std::vector<at::Tensor>> forward(const at::Tensor& x, const at::Tensor& temb,
                                                                 const at::Tensor& context) = 0;
};

class UpBlockBase : public torch::nn::Module {
 public:
  // Consumes num_layers states from the back of `skips`. upsample_size: the spatial size of the
  // next skip connection (empty = twice the input).
  virtual at::Tensor forward(const at::Tensor& x, std::vector<at::Tensor>& skips, const at::Tensor& temb,
                             const at::Tensor& context, const std::vector<int64_t>& upsample_size) = 0;
};

}  // namespace ftdr::torchbe
