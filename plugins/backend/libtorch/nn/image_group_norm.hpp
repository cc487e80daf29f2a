// nn/image_group_norm.hpp: GroupNorm of float32 images on the CPU, image by image, optionally in
// place.
//
// libtorch's CPU kernel always writes a new tensor, and for a channels-last input it sums each
// group in per-thread partial sums over the whole batch's rows, so an image's statistics depend on
// its batch and on the thread count. The VAE decoder's last levels hold activations of up to 256
// channels at 512x512 (268 MiB): normalizing one that nothing else holds in place saves such a
// buffer at the decoder's memory peak. Here each image's per-channel sums are taken in double in an
// order fixed by the layout alone (a contiguous channel in order; channels-last in fixed blocks of
// pixels, added in block order), so the result is the image's alone and the same on any number of
// threads. It matches libtorch's GroupNorm within float32 rounding.
//
//   at::Tensor y = at::empty_like(x);                // or y = x, in place
//   image_group_norm(x, y, 32, weight, bias, 1e-6);
#pragma once
#include <ATen/ATen.h>

#include <cstdint>

namespace ftdr::torchbe {

// True for what image_group_norm takes: [N, C, H, W] float32 on the CPU, contiguous or
// channels-last.
bool image_group_norm_supports(const at::Tensor& x);

// x and out: as above, the same shape and layout; out may be x. weight and bias: [C] float32, or
// undefined (1 and 0). C must be divisible by groups.
void image_group_norm(const at::Tensor& x, const at::Tensor& out, std::int64_t groups,
                      const at::Tensor& weight, const at::Tensor& bias, double eps);

}  // namespace ftdr::torchbe
