// nn/onednn_conv.hpp: one image's float32 convolution in bands of output rows, made by calling
// oneDNN itself, where libtorch links the same oneDNN (Debian's libtorch 1.13 and libdnnl 2.6).
//
// at::mkldnn_convolution on a band of rows (nn/cpu_conv.cpp) needs the band's input rows as their
// own tensor (a slice made contiguous, or padded), reorders the layer's weights into oneDNN's
// blocked layout on every call, and returns the band's output as a new tensor that is then copied
// into the image's output. Called here, oneDNN reads the band's rows where they lie in the input
// (the zero rows beyond the image's edge are the primitive's own padding), the weights are
// reordered once for all bands, and the blocked output is converted straight into its rows of the
// output: on the SD-1.5-size VAE decode at 512x512, 264 band calls, the copies alone were 0.35 s
// of 13.8 s. The primitives are the ones libtorch creates (same shapes, same library), so the
// result is the same bits (tests/onednn_conv_test.cpp checks it against one at::mkldnn_convolution).
//
//   if (!onednn_banded_conv2d(image, weight, bias, pad_h, pad_w, rows, out)) { /* libtorch's way */ }
#pragma once
#include <ATen/Tensor.h>
#include <c10/util/Optional.h>

#include <cstdint>
#include <string>

namespace ftdr::torchbe {

// Whether this build calls oneDNN itself (FTDR_ONEDNN_CONV, set by CMake where libtorch links the
// oneDNN 2.x whose headers it found).
bool onednn_direct_conv_built();

// For `ftdr doctor`: one line starting with "convolutions: " that says whether large images'
// banded convolutions call oneDNN directly, and which oneDNN it is (its version at run time).
std::string describe_onednn_conv();

// Convolves image (1 x C x H x W, contiguous float32) with weight (O x C x kh x kw, stride 1, no
// dilation, one group) and bias ([O] or none), zero padding pad_h rows and pad_w columns, into out
// (1 x O x out_h x out_w, contiguous float32), rows output rows at a time. False, with out not
// (fully) written, when this build or oneDNN cannot; then the caller convolves another way.
bool onednn_banded_conv2d(const at::Tensor& image, const at::Tensor& weight,
                          const c10::optional<at::Tensor>& bias, std::int64_t pad_h, std::int64_t pad_w,
                          std::int64_t rows, at::Tensor& out);

}  // namespace ftdr::torchbe
