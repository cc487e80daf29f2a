// nn/onednn_common.hpp: what FTDR's direct oneDNN calls (onednn_conv, onednn_linear) share. Only for
// the files compiled with FTDR_ONEDNN_CONV (cmake/OneDnnConv.cmake), which have oneDNN's headers.
#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <oneapi/dnnl/dnnl.hpp>
#include <string>

namespace ftdr::torchbe {

// The one CPU engine, made on first use. It holds no threads of its own: oneDNN's OpenMP build runs
// its primitives on the calling thread's OpenMP team, libtorch's intra-op threads.
inline dnnl::engine& onednn_cpu_engine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

// The oneDNN this process runs on, "2.6.3" (its library's version, not the headers'), for `ftdr doctor`.
inline std::string onednn_version_text() {
  const dnnl_version_t* v = dnnl_version();
  return std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch);
}

// A contiguous float32 CPU tensor of `dims` dimensions: what the plain memory descriptors describe.
inline bool onednn_plain_f32(const at::Tensor& t, std::int64_t dims) {
  return t.dim() == dims && t.scalar_type() == at::kFloat && t.device().is_cpu() && t.is_contiguous();
}

}  // namespace ftdr::torchbe
