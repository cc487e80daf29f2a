// nn/onednn_linear.hpp: a large float32 Linear GEMM made by calling oneDNN's inner product itself,
// where libtorch links the same oneDNN (Debian's libtorch 1.13 and libdnnl 2.6; see onednn_conv.hpp).
//
// at::mkldnn_linear (nn/cpu_linear.cpp's way before) takes its input as a oneDNN tensor (a copy),
// reorders the dense weights into the transposed layout its primitive asks for on every call (a
// second copy, of the weights), and returns a oneDNN tensor that is then copied out twice (to_dense,
// then into the sample's rows). On SDXL's feed-forward projection (2048 x 5120 -> 1280) those copies
// took 19 ms of 180 per call (DNNL_VERBOSE). Called here, the same gemm-based primitive reads the
// input and the weights where they lie (oneDNN's gemm takes the weights as they are stored, [out,
// in]) and writes the output rows in place.
//
//   at::Tensor y = at::empty({rows, weight.size(0)}, x.options());
//   if (!onednn_linear(x, weight, bias, y)) { /* at::mkldnn_linear */ }
#pragma once
#include <ATen/Tensor.h>

#include <string>

namespace ftdr::torchbe {

// Whether this build calls oneDNN itself (FTDR_ONEDNN_CONV: cmake/OneDnnConv.cmake).
bool onednn_direct_linear_built();

// For `ftdr doctor`: one line starting with "linear layers: " that says where large GEMMs go.
std::string describe_onednn_linear();

// out = x weight^T + bias on oneDNN's inner product, on libtorch's intra-op threads: x [rows, in],
// weight [out, in], bias [out] or undefined, out [rows, out]; all contiguous float32 on the CPU,
// out not overlapping the others. False, with out not (fully) written, when this build or oneDNN
// cannot; then the caller multiplies another way.
bool onednn_linear(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias, at::Tensor& out);

}  // namespace ftdr::torchbe
