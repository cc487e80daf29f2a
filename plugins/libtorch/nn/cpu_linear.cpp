// nn/cpu_linear.cpp: see cpu_linear.h.
#include "nn/cpu_linear.h"

#include <ATen/Context.h>
#include <c10/core/GradMode.h>

#include <vector>

namespace ftdr::torchbe {
namespace {

bool use_onednn(const at::Tensor& x, const at::Tensor& weight, std::int64_t rows_per_sample) {
  return x.device().is_cpu() && x.scalar_type() == at::kFloat && weight.scalar_type() == at::kFloat &&
         at::hasMKLDNN() && !c10::GradMode::is_enabled() &&
         rows_per_sample * weight.size(0) * weight.size(1) >= kOneDnnMinMacs;
}

}  // namespace

at::Tensor cpu_linear(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias) {
  if (x.dim() < 2) return at::linear(x, weight, bias);
  const std::int64_t samples = x.dim() == 2 ? 1 : x.size(0);
  const std::int64_t rows = x.numel() / x.size(-1) / samples;
  if (!use_onednn(x, weight, rows)) return at::linear(x, weight, bias);
  const at::Tensor flat = x.reshape({samples, rows, x.size(-1)});
  at::Tensor out = at::empty({samples, rows, weight.size(0)}, x.options());
  for (std::int64_t s = 0; s < samples; ++s)
    out[s].copy_(at::mkldnn_linear(flat[s].contiguous().to_mkldnn(), weight, bias).to_dense());
  std::vector<std::int64_t> shape(x.sizes().begin(), x.sizes().end());
  shape.back() = weight.size(0);
  return out.view(shape);
}

}  // namespace ftdr::torchbe
