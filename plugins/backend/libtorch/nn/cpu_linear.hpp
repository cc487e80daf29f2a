// nn/cpu_linear.hpp: a Linear layer's forward that sends large float32 GEMMs on the CPU to oneDNN.
//
// Debian's libtorch runs at::linear through libblas (OpenBLAS 0.3.21): about 40 GFLOP/s on two
// cores for the SD-1.5 UNet's projections, where oneDNN's mkldnn_linear (linked into the same
// libtorch) reaches 125-154 GFLOP/s (measured, 8192x320x2560 and similar). Where the build links
// that oneDNN, its inner product is called on the tensors' own memory (nn/onednn_linear.hpp: no
// copies, no per-call weight reorder; at::mkldnn_linear elsewhere). Small GEMMs stay on BLAS: their
// cost is per-op overhead, and the tiny reference models keep their exact numerics.
//
// Inference (grad mode off): each sample of a batch is its own GEMM, small ones (BLAS) included, so
// an image's numbers do not depend on how many images share the batch (batch splitting relies on
// that): one BLAS GEMM over the batch rounds a sample's rows differently with its row count. x's
// first dimension is always the batch: [samples, tokens, in], or [samples, in] for per-image vectors
// (time embeddings), whose rows are then GEMMs of one row each (libtorch 2.x's MKL rounds a row of a
// 2-row GEMM differently from the row alone; OpenBLAS does not). With the BLAS on one thread the
// samples' BLAS GEMMs run side by side on libtorch's threads (nn/gemm_workers.hpp), each as alone.
// Training (grad mode on, something requires grad): the whole batch is one GEMM, and the backward
// pass's two GEMMs go to oneDNN too. The trainer sets OpenBLAS to one thread (its spinning threads
// beside libtorch's oversubscribe two cores), so there BLAS GEMMs run on one core while oneDNN
// uses libtorch's pool.
//
//   at::Tensor y = cpu_linear(x, linear->weight, linear->bias);   // x [samples, ..., in] -> [samples, ...,
//   out]
#pragma once
#include <ATen/ATen.h>

#include <cstdint>

namespace ftdr::torchbe {

// Multiply-adds per sample from which an inference GEMM goes to oneDNN (SD-1.5's smallest
// projection at 512x512, 4096x320x320, is 419 M; the demo model's largest is 4 M).
inline constexpr std::int64_t kOneDnnMinMacs = std::int64_t{1} << 27;
// Multiply-adds of a whole training batch from which its GEMMs go to oneDNN (the demo model's
// 8x8-level projections at batch 32 are 34-268 M).
inline constexpr std::int64_t kOneDnnMinTrainingMacs = std::int64_t{1} << 24;

at::Tensor cpu_linear(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias);

}  // namespace ftdr::torchbe
