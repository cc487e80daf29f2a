// vae/vae_block_options.hpp: the options the VAE's encoder and decoder blocks share.
#pragma once
#include <cstdint>

#include "nn/resnet_block_2d.hpp"

namespace ftdr::torchbe {

struct VaeBlockOptions {
  int64_t num_layers = 1;
  int64_t in_channels = 0;
  int64_t out_channels = 0;
  bool add_sample = true;  // add_downsample / add_upsample
  double eps = 1e-6;
  int64_t groups = 32;
};

// The i-th resnet of a block (no time embedding): the first takes in_channels, the rest out_channels.
ResnetBlock2DOptions vae_resnet_options(const VaeBlockOptions& o, int64_t i);

}  // namespace ftdr::torchbe
