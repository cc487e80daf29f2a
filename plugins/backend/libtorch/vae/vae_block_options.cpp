// vae/vae_block_options.cpp: see vae_block_options.h.
#include "vae/vae_block_options.hpp"

namespace ftdr::torchbe {

ResnetBlock2DOptions vae_resnet_options(const VaeBlockOptions& o, int64_t i) {
  ResnetBlock2DOptions r;
  r.in_channels = i == 0 ? o.in_channels : o.out_channels;
  r.out_channels = o.out_channels;
  r.groups = o.groups;
  r.eps = o.eps;
  return r;
}

}  // namespace ftdr::torchbe
