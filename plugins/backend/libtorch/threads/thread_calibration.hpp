// threads/thread_calibration.hpp: timing thread splits on a round of work at a model's sizes.
//
// `threads = 0` in [backend.libtorch] measures instead of guessing. A round is, for a small UNet
// (one image's convolutions under kMaxStepMultiplyAdds), one real CFG step of the loaded UNet at
// its sample_size: two images, every level and head, as the sampler runs it. For a larger one,
// whose step takes seconds, the op mix a UNet transformer/resnet level spends its time in, at the
// model's first level and default latent size (GroupNorm, SiLU, a 3x3 convolution, a Linear
// through cpu_linear, self- and cross-attention with one head). Each candidate split
// (thread_choice.hpp) runs a few rounds, interleaved so the machine's drift hits every candidate
// alike; after the first round only the contenders (worth_more_rounds), each timed round after an
// untimed one. 4.3-7.9 s for SD-1.5 sizes on 2 cores (more on loaded ones), 1.2-2.7 s for the tiny
// test models; thread_setup.hpp caches the outcome.
//
//   CalibrationWorkload w = calibration_workload(folder.unet, at::kFloat);
//   auto round = calibration_round(w, unet);
//   std::vector<SplitTiming> t = time_splits(round, candidate_splits(cores, blas_settable));
//   apply_split(choose_split(t)->split);
#pragma once
#include <ATen/ATen.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "threads/thread_choice.hpp"
#include "unet/unet_2d_condition_model.hpp"
#include "unet/unet_config.hpp"

namespace ftdr::torchbe {

inline constexpr std::int64_t kMaxCalibrationTokens = 4096;  // latent positions the mix runs at, at most

// What a round runs. The op mix under-represents a small model: the tiny test UNet's mix (one
// image, one head of 4 channels at its first level, which has no attention in the real network)
// ran fastest on 1/1 where the real pipeline is 1.35-1.6x faster on 2/1, its CFG pair and 8 heads
// side by side (nn/gemm_workers.hpp). A real step is exact and, for such a model, cheap.
enum class CalibrationRound {
  op_mix,     // the op mix at the first level
  unet_step,  // one CFG step (2 images) of the loaded UNet at its sample_size
};

// Multiply-adds of one image's 3x3 resnet convolutions at the UNet's sample_size, about: the
// size of a step, known before timing anything. The tiny test UNet: 2.3e8; SD 1.5: 1.3e11.
double unet_step_multiply_adds(const UNetConfig& unet);
// A real step as the round up to this (about 0.25 s per CFG step on one core of the 2-core EPYC).
inline constexpr double kMaxStepMultiplyAdds = 1e9;

struct CalibrationWorkload {
  CalibrationRound round = CalibrationRound::op_mix;
  std::string unet_shape;          // unet_step: the UNet's sizes (key())
  std::int64_t channels = 320;     // the UNet's first block_out_channels
  std::int64_t height = 32;        // latent height and width: the UNet's sample_size, halved until at
  std::int64_t width = 32;         // most kMaxCalibrationTokens positions
  std::int64_t head_dim = 40;      // channels / heads of the first level
  std::int64_t groups = 32;        // norm_num_groups
  std::int64_t context_dim = 768;  // cross_attention_dim
  at::ScalarType dtype = at::kFloat;
  // The cache's workload key: "unet-level0 c320 64x64 d40 g32 ctx768 Float mix3" for the op mix,
  // "unet-step c32,64 l2,2 h8,8 t1,1 a01 s32 ctx32 Float b2 step2" for a step. The round's version is
  // part of it, so changing the round measures again.
  std::string key() const;
  // "one CFG step of the UNet" or "the op mix at the first level": what a round runs, for diagnostics.
  std::string describe() const;
};

CalibrationWorkload calibration_workload(const UNetConfig& unet, at::ScalarType dtype);

// One round of `workload`: a step of `unet` (must be the loaded UNet the workload was made from,
// on the CPU, when the workload's round is unet_step; unused otherwise), or the op mix with its
// inputs and weights made now. Throws std::invalid_argument for a unet_step workload without a UNet.
std::function<void()> calibration_round(const CalibrationWorkload& workload, UNet2DConditionModel unet);

struct CalibrationOptions {
  int rounds = 4;                   // timed rounds per candidate (the fastest counts)
  double min_round_seconds = 0.03;  // a round repeats the mix until it lasts at least this long
};

// Times `round` on every candidate (rounds interleaved across candidates) and leaves the threads at
// the last candidate's split: the caller applies its decision afterwards.
std::vector<SplitTiming> time_splits(const std::function<void()>& round,
                                     const std::vector<ThreadSplit>& candidates,
                                     const CalibrationOptions& options = {});

// at::set_num_threads(intra_op) and, when split.blas > 0, the loaded OpenBLAS's thread count.
void apply_split(const ThreadSplit& split);

// This process's machine: CPU model, usable cores, libtorch version and BLAS library.
MachineKey this_machine();

// CPUs this process may run on (sched_getaffinity; hardware_concurrency when that fails).
int usable_cores();

}  // namespace ftdr::torchbe
