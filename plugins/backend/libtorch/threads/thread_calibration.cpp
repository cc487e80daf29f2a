// threads/thread_calibration.cpp: see thread_calibration.hpp.
#include "threads/thread_calibration.hpp"

#include <c10/core/InferenceMode.h>
#include <sched.h>
#include <torch/version.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <thread>

#include "adapter/blas_info.hpp"
#include "nn/attention.hpp"
#include "nn/cpu_linear.hpp"

namespace ftdr::torchbe {
namespace {

using Clock = std::chrono::steady_clock;

// The mix's inputs and weights, made once per calibration (random: only the time matters).
struct OpMix {
  at::Tensor x, conv_w, conv_b, lin_w, lin_b, context, norm_w, norm_b;
  std::int64_t groups = 32;

  explicit OpMix(const CalibrationWorkload& w) {
    const auto o = at::TensorOptions().dtype(w.dtype);
    x = at::randn({1, w.channels, w.height, w.width}, o);
    conv_w = at::randn({w.channels, w.channels, 3, 3}, o).mul_(0.02);
    conv_b = at::zeros({w.channels}, o);
    lin_w = at::randn({4 * w.channels, w.channels}, o).mul_(0.02);  // a feed-forward's first Linear
    lin_b = at::zeros({4 * w.channels}, o);
    context = at::randn({1, 77, w.channels}, o);  // text tokens already projected to the level's width
    norm_w = at::ones({w.channels}, o);
    norm_b = at::zeros({w.channels}, o);
    groups = w.groups;
  }

  // One round: resnet half (GroupNorm, SiLU, conv 3x3) and transformer ops (Linear, self- and
  // cross-attention over the level's tokens), one image and one head (d = head_dim) each.
  void run(std::int64_t head_dim) const {
    at::Tensor h = at::silu(at::group_norm(x, groups, norm_w, norm_b, 1e-5));
    h = at::conv2d(h, conv_w, conv_b, 1, 1);
    const at::Tensor tokens = h.flatten(2).transpose(1, 2).contiguous();  // [1, HW, C]
    const at::Tensor ff = cpu_linear(tokens, lin_w, lin_b);
    const AttentionSettings naive;
    const at::Tensor q = tokens.narrow(2, 0, head_dim);
    const at::Tensor self = attention(q, q, q, 1, naive, false);
    const at::Tensor cross =
        attention(q, context.narrow(2, 0, head_dim), context.narrow(2, 0, head_dim), 1, naive, false);
    (void)ff.sum().item<double>();  // waits for nothing on the CPU; keeps the results alive until here
    (void)self.sum().item<double>();
    (void)cross.sum().item<double>();
  }
};

double seconds(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) != 0) continue;
    const auto colon = line.find(':');
    if (colon == std::string::npos) break;
    const auto start = line.find_first_not_of(' ', colon + 1);
    return start == std::string::npos ? std::string() : line.substr(start);
  }
  return "unknown CPU";
}

}  // namespace

std::string CalibrationWorkload::key() const {
  return "unet-level0 c" + std::to_string(channels) + " " + std::to_string(height) + "x" +
         std::to_string(width) + " d" + std::to_string(head_dim) + " g" + std::to_string(groups) + " ctx" +
         std::to_string(context_dim) + " " + c10::toString(dtype) + " mix2";
}

CalibrationWorkload calibration_workload(const UNetConfig& unet, at::ScalarType dtype) {
  CalibrationWorkload w;
  w.channels = unet.block_out_channels.front();
  // At most kMaxCalibrationTokens positions (halving both sides; SDXL's 128x128 runs at 64x64).
  // Not fewer: SD-1.5's level 0 shrunk to 32x32 (the earlier limit) ran as fast on 1 thread as on
  // 2 (a ~32 ms round), so threads = 0 chose 1:1 where the real UNet step and VAE decode are
  // 1.5-1.75x faster on 2:2; at its real 64x64 the mix is 0.67x on 2:2 as well.
  w.height = w.width = std::max<std::int64_t>(unet.sample_size, 1);
  while (w.height * w.width > kMaxCalibrationTokens && w.height > 1) {
    w.height = (w.height + 1) / 2;
    w.width = (w.width + 1) / 2;
  }
  const std::int64_t heads = std::max<std::int64_t>(unet.attention_heads.front(), 1);
  w.head_dim = std::max<std::int64_t>(w.channels / heads, 1);
  w.groups = unet.norm_num_groups;
  w.context_dim = unet.cross_attention_dim;
  w.dtype = dtype;
  return w;
}

std::vector<SplitTiming> time_splits(const CalibrationWorkload& workload,
                                     const std::vector<ThreadSplit>& candidates,
                                     const CalibrationOptions& options) {
  c10::InferenceMode inference;  // as the backend's phases run
  const OpMix mix(workload);
  std::vector<SplitTiming> out;
  if (candidates.empty()) return out;
  // Every candidate once untimed (thread pools start, oneDNN builds its kernels), then the rounds'
  // length from the first candidate's warm time.
  double first = 0;
  for (const auto& c : candidates) {
    apply_split(c);
    const auto start = Clock::now();
    mix.run(workload.head_dim);
    if (out.empty()) first = seconds(start);
    out.push_back({c, {}});
  }
  apply_split(candidates.front());
  const auto start = Clock::now();
  mix.run(workload.head_dim);
  first = std::min(first, seconds(start));
  const int repeats =
      std::max(1, static_cast<int>(std::ceil(options.min_round_seconds / std::max(first, 1e-6))));
  std::vector<bool> timed(out.size(), true);
  for (int r = 0; r < options.rounds; ++r) {
    if (r == 1) timed = worth_more_rounds(out);
    for (std::size_t i = 0; i < out.size(); ++i) {
      if (!timed[i]) continue;
      auto& t = out[i];
      apply_split(t.split);
      if (repeats > 1) mix.run(workload.head_dim);  // the switch's cost stays out of a short round
      const auto round_start = Clock::now();
      for (int k = 0; k < repeats; ++k) mix.run(workload.head_dim);
      t.seconds.push_back(seconds(round_start) / repeats);
    }
  }
  return out;
}

void apply_split(const ThreadSplit& split) {
  at::set_num_threads(std::max(split.intra_op, 1));
  if (split.blas > 0) set_openblas_threads(split.blas);
}

int usable_cores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) return std::max(CPU_COUNT(&set), 1);
  return std::max(static_cast<int>(std::thread::hardware_concurrency()), 1);
}

MachineKey this_machine() { return {cpu_model(), usable_cores(), TORCH_VERSION, describe_blas()}; }

}  // namespace ftdr::torchbe
