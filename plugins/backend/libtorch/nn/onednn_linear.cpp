// nn/onednn_linear.cpp: see onednn_linear.hpp.
#include "nn/onednn_linear.hpp"

#include <ATen/core/Tensor.h>

#ifdef FTDR_ONEDNN_CONV
#include <oneapi/dnnl/dnnl.hpp>

#include <unordered_map>
#endif

namespace ftdr::torchbe {

#ifdef FTDR_ONEDNN_CONV
namespace {

using dnnl::memory;

dnnl::engine& cpu_engine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

bool fits(const at::Tensor& t, std::int64_t dims) {
  return t.dim() == dims && t.scalar_type() == at::kFloat && t.device().is_cpu() && t.is_contiguous();
}

memory::desc plain(memory::dims dims) {
  return memory::desc(dims, memory::data_type::f32,
                      dims.size() == 1 ? memory::format_tag::a : memory::format_tag::ab);
}

}  // namespace

bool onednn_direct_linear_built() { return true; }

bool onednn_linear(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias, at::Tensor& out) {
  if (!fits(x, 2) || !fits(weight, 2) || !fits(out, 2) || (bias.defined() && !fits(bias, 1))) return false;
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
    const dnnl::inner_product_forward::primitive_desc pd(desc, cpu_engine());
    std::unordered_map<int, memory> args{
        {DNNL_ARG_SRC, memory(src, cpu_engine(), x.data_ptr<float>())},
        {DNNL_ARG_WEIGHTS, memory(wei, cpu_engine(), weight.data_ptr<float>())},
        {DNNL_ARG_DST, memory(dst, cpu_engine(), out.data_ptr<float>())}};
    if (bias.defined())
      args.emplace(DNNL_ARG_BIAS, memory(plain({features}), cpu_engine(), bias.data_ptr<float>()));
    dnnl::stream stream(cpu_engine());
    dnnl::inner_product_forward(pd).execute(stream, args);
    stream.wait();
    return true;
  } catch (const dnnl::error&) {
    return false;  // no primitive for this shape or ISA: libtorch's call still may
  }
}

#else

bool onednn_direct_linear_built() { return false; }

bool onednn_linear(const at::Tensor&, const at::Tensor&, const at::Tensor&, at::Tensor&) { return false; }

#endif

}  // namespace ftdr::torchbe
