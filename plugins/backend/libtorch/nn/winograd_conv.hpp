// nn/winograd_conv.hpp: one image's 3x3 float32 convolution (stride 1, one row and column of zero
// padding) by Winograd's minimal filtering F(2x2, 3x3), on CPUs with AVX2 and FMA.
//
// A direct 3x3 convolution makes each output element from 9 products per input channel. On the SD
// VAE decoder oneDNN's direct AVX2 kernels already ran at ~200 GFLOP/s on two Zen 2 cores, the
// FMA units' peak: 12.2 s of the 13.9 s decode were those convolutions, so only fewer products can
// make it faster. F(2x2, 3x3) (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks",
// 2015) makes a 2x2 output tile from a 4x4 input tile with 16 products per channel pair instead of
// 36: the input tiles and the weights are transformed (V = B^T d B, U = G g G^T), the 16
// transformed positions are 16 matrix products over the channels (M = U V), and each tile's output
// is A^T M A. The transforms' coefficients are 0, +-1 and +-1/2, so the float32 result differs from
// the direct sum's by rounding only (tests/winograd_conv_test.cpp: within 2e-6 of the result's
// scale), not bit for bit.
//
//   at::Tensor out = at::empty({1, K, H, W}, image.options());
//   if (!winograd_conv3x3(image, weight, bias, out)) { /* convolve another way */ }
#pragma once
#include <ATen/Tensor.h>
#include <c10/util/Optional.h>

namespace ftdr::torchbe {

// Whether this machine runs winograd_conv3x3 (x86-64 with AVX2 and FMA).
bool winograd_conv_available();

// Convolves image (1 x C x H x W, contiguous float32 on the CPU) with weight (K x C x 3 x 3,
// contiguous float32) and bias ([K] float32, or none), stride 1 and padding 1, into out (1 x K x H x
// W, contiguous float32, not image's memory), on at::get_num_threads() threads; each output's sum
// is the same whatever the threads. False, with out untouched, when this machine cannot
// (winograd_conv_available()) or the tensors are not those; then the caller convolves another way.
bool winograd_conv3x3(const at::Tensor& image, const at::Tensor& weight,
                      const c10::optional<at::Tensor>& bias, at::Tensor& out);

}  // namespace ftdr::torchbe
