// unet/unet_blocks.cpp: see unet_blocks.h  (Ref: diffusers models/unets/unet_2d_blocks.py)
#include "unet/unet_blocks.hpp"

namespace ftdr::torchbe {
namespace {

ResnetBlock2DOptions resnet_options(const UNetBlockOptions& o, int64_t in_channels, int64_t out_channels) {
  ResnetBlock2DOptions r;
  r.in_channels = in_channels;
  r.out_channels = out_channels;
  r.temb_channels = o.temb_channels;
  r.groups = o.groups;
  r.eps = o.eps;
  r.output_scale_factor = o.output_scale_factor;
  return r;
}

}  // namespace

ResnetBlock2DOptions down_resnet_options(const UNetBlockOptions& o, int64_t i) {
  return resnet_options(o, i == 0 ? o.in_channels : o.out_channels, o.out_channels);
}

ResnetBlock2DOptions up_resnet_options(const UNetBlockOptions& o, int64_t i) {
  const int64_t skip = i == o.num_layers - 1 ? o.in_channels : o.out_channels;
  return resnet_options(o, (i == 0 ? o.prev_output_channel : o.out_channels) + skip, o.out_channels);
}

Transformer2DModelOptions transformer_options(const UNetBlockOptions& o, int64_t channels) {
  Transformer2DModelOptions t;
  t.in_channels = channels;
  t.heads = o.heads;
  t.dim_head = channels / o.heads;
  t.num_layers = o.transformer_layers;
  t.cross_attention_dim = o.cross_attention_dim;
  t.norm_num_groups = o.groups;
  t.use_linear_projection = o.use_linear_projection;
  t.upcast_attention = o.upcast_attention;
  return t;
}

}  // namespace ftdr::torchbe
