// nn/cpu_linear.cpp: see cpu_linear.h.
#include "nn/cpu_linear.hpp"

#include <ATen/Context.h>
#include <c10/core/GradMode.h>
#include <torch/csrc/autograd/custom_function.h>

#include <vector>

#include "nn/gemm_workers.hpp"
#include "nn/onednn_linear.hpp"

namespace ftdr::torchbe {
namespace {

bool onednn_capable(const at::Tensor& x, const at::Tensor& weight) {
  return x.device().is_cpu() && x.scalar_type() == at::kFloat && weight.scalar_type() == at::kFloat &&
         at::hasMKLDNN();
}

// x's shape with the last dimension (in features) replaced by `out_features`.
std::vector<std::int64_t> output_shape(const at::Tensor& x, std::int64_t out_features) {
  std::vector<std::int64_t> shape(x.sizes().begin(), x.sizes().end());
  shape.back() = out_features;
  return shape;
}

// a [n, k] times b [m, k] transposed (+ bias [m]) -> [n, m], dense, by oneDNN.
at::Tensor onednn_gemm(const at::Tensor& a, const at::Tensor& b, const at::Tensor& bias) {
  return at::mkldnn_linear(a.contiguous().to_mkldnn(), b.contiguous(), bias).to_dense();
}

// y = x W^T (+ b) on 2-D x with oneDNN in both directions. at::mkldnn_linear's own derivative
// wants oneDNN-layout gradients, so the backward pass is spelt out here as two more GEMMs.
// libtorch 1.13's custom functions take no undefined inputs, hence one function per bias case.
// Only the gradients some input needs are computed (a frozen weight or a leaf input skips a GEMM).
torch::autograd::variable_list linear_backward(torch::autograd::AutogradContext* ctx, const at::Tensor& grad,
                                               bool with_bias) {
  const auto saved = ctx->get_saved_variables();
  const at::Tensor& x = saved[0];
  const at::Tensor& weight = saved[1];
  const at::Tensor g = grad.contiguous();
  torch::autograd::variable_list grads{
      ctx->needs_input_grad(0) ? onednn_gemm(g, weight.t(), {}) : at::Tensor(),  // [n, out] . [out, in]
      ctx->needs_input_grad(1) ? onednn_gemm(g.t(), x.t(), {}) : at::Tensor()};  // [out, n] . [n, in]
  if (with_bias) grads.push_back(ctx->needs_input_grad(2) ? g.sum(0) : at::Tensor());
  return grads;
}

struct OneDnnLinear : torch::autograd::Function<OneDnnLinear> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x,
                            const at::Tensor& weight, const at::Tensor& bias) {
    ctx->save_for_backward({x, weight});
    return onednn_gemm(x, weight, bias);
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    return linear_backward(ctx, grads[0], true);
  }
};

struct OneDnnLinearNoBias : torch::autograd::Function<OneDnnLinearNoBias> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x,
                            const at::Tensor& weight) {
    ctx->save_for_backward({x, weight});
    return onednn_gemm(x, weight, {});
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    return linear_backward(ctx, grads[0], false);
  }
};

at::Tensor training_linear(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias) {
  const std::int64_t rows = x.numel() / x.size(-1);
  const bool needs_grad =
      x.requires_grad() || weight.requires_grad() || (bias.defined() && bias.requires_grad());
  if (!needs_grad || rows * weight.size(0) * weight.size(1) < kOneDnnMinTrainingMacs)
    return at::linear(x, weight, bias);
  const at::Tensor x2d = x.reshape({rows, x.size(-1)});
  const at::Tensor y =
      bias.defined() ? OneDnnLinear::apply(x2d, weight, bias) : OneDnnLinearNoBias::apply(x2d, weight);
  return y.view(output_shape(x, weight.size(0)));
}

}  // namespace

at::Tensor cpu_linear(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias) {
  if (x.dim() < 2 || !onednn_capable(x, weight)) return at::linear(x, weight, bias);
  if (c10::GradMode::is_enabled()) return training_linear(x, weight, bias);
  // [samples, rows..., in], or [samples, in]: one row per sample (time embeddings).
  const std::int64_t samples = x.size(0);
  const std::int64_t rows = samples == 0 ? 0 : x.numel() / x.size(-1) / samples;
  const bool onednn = rows * weight.size(0) * weight.size(1) >= kOneDnnMinMacs;
  if (samples == 1 && !onednn) return at::linear(x, weight, bias);
  // Small GEMMs too: one BLAS GEMM over all samples rounds a sample's rows differently with the GEMM's
  // row count (measured: OpenBLAS 0.3.21 on an AMD EPYC, for a sample's tokens; MKL in libtorch 2.x
  // even for one row per sample, from 2 rows on), so an image would change with the batch.
  const at::Tensor flat = x.reshape({samples, rows, x.size(-1)});
  at::Tensor out = at::empty({samples, rows, weight.size(0)}, x.options());
  if (onednn) {  // oneDNN spreads each GEMM over libtorch's threads itself
    const at::Tensor w = weight.contiguous(), b = bias.defined() ? bias.contiguous() : bias;
    for (std::int64_t s = 0; s < samples; ++s) {
      at::Tensor o = out[s];
      const at::Tensor xs = flat[s].contiguous();
      if (!onednn_linear(xs, w, b, o)) o.copy_(at::mkldnn_linear(xs.to_mkldnn(), w, b).to_dense());
    }
  } else {  // each sample's GEMM into its rows of out (at::linear's own addmm, without a copy)
    const at::Tensor wt = weight.t();
    run_side_by_side(samples, gemm_workers(), [&](std::int64_t s, int) {
      at::Tensor o = out[s];
      if (bias.defined()) {
        at::addmm_out(o, bias, flat[s].contiguous(), wt);
      } else {
        at::mm_out(o, flat[s].contiguous(), wt);
      }
    });
  }
  return out.view(output_shape(x, weight.size(0)));
}

}  // namespace ftdr::torchbe
