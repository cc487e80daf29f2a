// threads/thread_calibration.hpp: timing thread splits on an op mix at a model's sizes.
//
// `threads = 0` in [backend.libtorch] measures instead of guessing: one round runs the ops a UNet
// transformer/resnet level spends its time in, at the model's first level and default latent size
// (GroupNorm, SiLU, a 3x3 convolution, a Linear through cpu_linear, self- and cross-attention with
// one head), each candidate split (thread_choice.hpp) for a few rounds, interleaved so the
// machine's drift hits every candidate alike; after the first round only the contenders
// (worth_more_rounds). About 5 s for SD-1.5 sizes on 2 cores (4.9-5.0 s measured, 4 rounds; more
// on loaded ones), well under a second for the tiny test models; thread_setup.hpp caches the outcome.
//
//   CalibrationWorkload w = calibration_workload(folder.unet, at::kFloat);
//   std::vector<SplitTiming> t = time_splits(w, candidate_splits(cores, blas_settable));
//   apply_split(choose_split(t)->split);
#pragma once
#include <ATen/ATen.h>

#include <cstdint>
#include <string>
#include <vector>

#include "threads/thread_choice.hpp"
#include "unet/unet_config.hpp"

namespace ftdr::torchbe {

inline constexpr std::int64_t kMaxCalibrationTokens = 4096;  // latent positions the mix runs at, at most

struct CalibrationWorkload {
  std::int64_t channels = 320;     // the UNet's first block_out_channels
  std::int64_t height = 32;        // latent height and width: the UNet's sample_size, halved until at
  std::int64_t width = 32;         // most kMaxCalibrationTokens positions
  std::int64_t head_dim = 40;      // channels / heads of the first level
  std::int64_t groups = 32;        // norm_num_groups
  std::int64_t context_dim = 768;  // cross_attention_dim
  at::ScalarType dtype = at::kFloat;
  // "unet-level0 c320 32x32 d40 g32 ctx768 Float mix2": the cache's workload key (the op mix's
  // version is part of it, so changing the mix measures again).
  std::string key() const;
};

CalibrationWorkload calibration_workload(const UNetConfig& unet, at::ScalarType dtype);

struct CalibrationOptions {
  int rounds = 4;                   // timed rounds per candidate (the fastest counts)
  double min_round_seconds = 0.03;  // a round repeats the mix until it lasts at least this long
};

// Times every candidate (rounds interleaved across candidates) and leaves the threads at the last
// candidate's split: the caller applies its decision afterwards.
std::vector<SplitTiming> time_splits(const CalibrationWorkload& workload,
                                     const std::vector<ThreadSplit>& candidates,
                                     const CalibrationOptions& options = {});

// at::set_num_threads(intra_op) and, when split.blas > 0, the loaded OpenBLAS's thread count.
void apply_split(const ThreadSplit& split);

// This process's machine: CPU model, usable cores, libtorch version and BLAS library.
MachineKey this_machine();

// CPUs this process may run on (sched_getaffinity; hardware_concurrency when that fails).
int usable_cores();

}  // namespace ftdr::torchbe
