// nn/per_sample_activation.cpp: see per_sample_activation.hpp.
#include "nn/per_sample_activation.hpp"

#include <ATen/TensorIterator.h>
#include <ATen/core/grad_mode.h>

#include "nn/cpu_silu.hpp"
#include "nn/gemm_workers.hpp"

namespace ftdr::torchbe {
namespace {

// True when the batch runs one sample at a time: CPU, more than one sample, and no autograd graph
// to record (the per-sample writes go into views of one tensor).
bool per_sample(const at::Tensor& t) {
  return t.device().is_cpu() && t.dim() >= 2 && t.size(0) > 1 &&
         !(at::GradMode::is_enabled() && t.requires_grad());
}

// Calls op(s) for every sample s of t. A sample under libtorch's grain runs on one thread whatever
// the thread count, so such samples run side by side (the CFG pair of the tiny models' second
// level, 64 channels of 16x16), each computed exactly as alone; larger ones one after the other,
// each shared between the threads as libtorch cuts it.
template <typename Op>
void for_each_sample(const at::Tensor& t, Op op) {
  const std::int64_t samples = t.size(0);
  const bool small = t.numel() / samples < at::internal::GRAIN_SIZE;
  run_side_by_side(samples, small ? intra_op_workers() : 1, [&](std::int64_t s, int) { op(s); });
}

// `op_out(out[s], t[s])` for every sample s, into a new contiguous tensor.
template <typename OpOut>
at::Tensor each_sample(const at::Tensor& t, OpOut op_out) {
  at::Tensor out = at::empty(t.sizes(), t.options().memory_format(at::MemoryFormat::Contiguous));
  for_each_sample(t, [&](std::int64_t s) {
    at::Tensor sample = out.select(0, s);
    op_out(sample, t.select(0, s));
  });
  return out;
}

}  // namespace

at::Tensor silu_per_sample_(at::Tensor t) {
  if (at::GradMode::is_enabled() && t.requires_grad()) return at::silu(t);
  if (cpu_silu_fast(t)) {  // every element alone: no batch to split
    cpu_silu_out(t, t);
    return t;
  }
  if (!per_sample(t)) return at::silu_(t);
  for_each_sample(t, [&](std::int64_t s) {
    at::Tensor sample = t.select(0, s);
    at::silu_(sample);
  });
  return t;
}

at::Tensor silu_per_sample(const at::Tensor& t) {
  if (cpu_silu_fast(t)) {
    at::Tensor out = at::empty_like(t);  // the same strides (empty_like keeps a dense layout)
    cpu_silu_out(out, t);
    return out;
  }
  if (!per_sample(t)) return at::silu(t);
  return each_sample(t, [](at::Tensor& out, const at::Tensor& x) { at::silu_out(out, x); });
}

at::Tensor gelu_per_sample(const at::Tensor& t) {
  if (!per_sample(t)) return at::gelu(t);
  return each_sample(t, [](at::Tensor& out, const at::Tensor& x) { at::gelu_out(out, x); });
}

}  // namespace ftdr::torchbe
