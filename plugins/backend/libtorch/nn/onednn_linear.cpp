// nn/onednn_linear.cpp: see onednn_linear.hpp.
#include "nn/onednn_linear.hpp"

#include <ATen/core/Tensor.h>

#include <string>

#ifdef FTDR_ONEDNN_CONV
#include <unordered_map>

#include "nn/onednn_common.hpp"
#endif

namespace ftdr::torchbe {

#ifdef FTDR_ONEDNN_CONV
namespace {

using dnnl::memory;

memory::desc plain(memory::dims dims) {
  return memory::desc(dims, memory::data_type::f32,
                      dims.size() == 1 ? memory::format_tag::a : memory::format_tag::ab);
}

}  // namespace

bool onednn_direct_linear_built() { return true; }

std::string describe_onednn_linear() {
  return "linear layers: large float32 GEMMs call oneDNN " + onednn_version_text() +
         "'s inner product directly, small ones the BLAS";
}

bool onednn_linear(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias, at::Tensor& out) {
  if (!onednn_plain_f32(x, 2) || !onednn_plain_f32(weight, 2) || !onednn_plain_f32(out, 2) ||
      (bias.defined() && !onednn_plain_f32(bias, 1)))
    return false;
  const std::int64_t rows = x.size(0), in = x.size(1), features = weight.size(0);
  if (weight.size(1) != in || out.size(0) != rows || out.size(1) != features ||
      (bias.defined() && bias.size(0) != features) || rows == 0 || in == 0 || features == 0) {
    return false;
  }
  try {
    const memory::desc src = plain({rows, in}), wei = plain({features, in}), dst = plain({rows, features});
    // Inference: libtorch asks for forward_training, which for an inner product is the same
    // computation; the implementation is the same gemm either way.
    const auto kind = dnnl::prop_kind::forward_inference;
    const dnnl::inner_product_forward::desc desc =
        bias.defined() ? dnnl::inner_product_forward::desc(kind, src, wei, plain({features}), dst)
                       : dnnl::inner_product_forward::desc(kind, src, wei, dst);
    const dnnl::inner_product_forward::primitive_desc pd(desc, onednn_cpu_engine());
    std::unordered_map<int, memory> args{
        {DNNL_ARG_SRC, memory(src, onednn_cpu_engine(), x.data_ptr<float>())},
        {DNNL_ARG_WEIGHTS, memory(wei, onednn_cpu_engine(), weight.data_ptr<float>())},
        {DNNL_ARG_DST, memory(dst, onednn_cpu_engine(), out.data_ptr<float>())}};
    if (bias.defined())
      args.emplace(DNNL_ARG_BIAS, memory(plain({features}), onednn_cpu_engine(), bias.data_ptr<float>()));
    dnnl::stream stream(onednn_cpu_engine());
    dnnl::inner_product_forward(pd).execute(stream, args);
    stream.wait();
    return true;
  } catch (const dnnl::error&) {
    return false;  // no primitive for this shape or ISA: libtorch's call still may
  }
}

#else

bool onednn_direct_linear_built() { return false; }

std::string describe_onednn_linear() {
  return "linear layers: large float32 GEMMs through libtorch's mkldnn_linear, small ones the BLAS (this "
         "build does not call oneDNN itself: cmake/OneDnnConv.cmake)";
}

bool onednn_linear(const at::Tensor&, const at::Tensor&, const at::Tensor&, at::Tensor&) { return false; }

#endif

}  // namespace ftdr::torchbe
