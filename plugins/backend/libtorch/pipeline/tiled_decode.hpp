// pipeline/tiled_decode.hpp: VAE decode, whole or tile by tile with a host-supplied plan.
//
// Tiled: each tile's latents are decoded alone, multiplied by the tile's blend weights and added
// into an accumulator; the sum is divided by the summed weights (tiling.hpp), so weights need not
// sum to one. The plan is checked first: scale must equal the VAE's factor, every tile must lie
// inside the latent and carry (h*scale)*(w*scale) weights, and every output pixel must get a
// positive total weight; otherwise sdk::Error(invalid_request) naming the tile.
#pragma once
#include <ATen/ATen.h>

#include "ftdr/sdk/tiling.hpp"
#include "vae/autoencoder_kl.hpp"

namespace ftdr::torchbe {

// z: [B, C, h, w] already divided by scaling_factor, on the VAE's device and dtype.
// Returns the raw decoder output [B, 3, h*scale, w*scale] in float32.
at::Tensor decode_latents(AutoencoderKL& vae, const at::Tensor& z, const sdk::TilePlan* plan, int scale);

}  // namespace ftdr::torchbe
