// pipeline/image_convert.hpp: VAE output -> images, as diffusers' postprocessing does it.
//
//   at::Tensor unit = decoded_to_unit(vae->decode(latents / scaling_factor));  // [B, H, W, 3] in [0, 1]
//   std::vector<sdk::Image> images = unit_to_rgb8(unit);
//
// decoded_to_unit = clamp(x / 2 + 0.5, 0, 1), NCHW -> NHWC, float32 on the CPU: diffusers'
// output_type="np". unit_to_rgb8 = (x * 255).round() to uint8 (round half to even), as numpy_to_pil.
#pragma once
#include <ATen/ATen.h>

#include <vector>

#include "ftdr/sdk/types.hpp"

namespace ftdr::torchbe {

at::Tensor decoded_to_unit(const at::Tensor& decoded);
std::vector<sdk::Image> unit_to_rgb8(const at::Tensor& unit_nhwc);

}  // namespace ftdr::torchbe
