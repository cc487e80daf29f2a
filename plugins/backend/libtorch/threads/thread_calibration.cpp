// threads/thread_calibration.cpp: see thread_calibration.hpp.
#include "threads/thread_calibration.hpp"

#include <c10/core/InferenceMode.h>
#include <sched.h>
#include <torch/version.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <stdexcept>
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
  void operator()(std::int64_t head_dim) const {
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

// One CFG step of a loaded UNet on random inputs (only the time matters): two images at the
// UNet's sample_size, 77 text tokens, a mid-schedule timestep; SDXL's added conditions when it
// has them.
struct UNetStep {
  UNet2DConditionModel unet;
  at::Tensor x, t, text;
  UNetAddedConditions added;

  UNetStep(UNet2DConditionModel net, at::ScalarType dtype) : unet(std::move(net)) {
    const UNetConfig& c = unet->config();
    const auto o = at::TensorOptions().dtype(dtype);
    const std::int64_t side = std::max<std::int64_t>(c.sample_size, 1);
    x = at::randn({2, c.in_channels, side, side}, o);
    t = at::scalar_tensor(500, at::kLong);
    text = at::randn({2, 77, c.cross_attention_dim}, o);
    if (c.has_text_time()) {
      const double s = static_cast<double>(side * 8);  // the image size the time ids describe
      added = {at::randn({2, c.pooled_text_dim()}, o), at::tensor({s, s, 0.0, 0.0, s, s}, o).repeat({2, 1})};
    }
  }
  void operator()() { (void)unet->forward(x, t, text, added).sum().item<double>(); }
};

template <class T>
std::string joined(const std::vector<T>& values) {
  std::string out;
  for (const auto& v : values) out += (out.empty() ? "" : ",") + std::to_string(v);
  return out;
}

// "c32,64 l2,2 h8,8 t1,1 a01 s32 ctx32": what a step's time depends on (not the weights' values).
std::string unet_shape(const UNetConfig& u) {
  std::string attends;
  for (const auto& type : u.down_block_types) attends += type.rfind("CrossAttn", 0) == 0 ? "1" : "0";
  return "c" + joined(u.block_out_channels) + " l" + joined(u.layers_per_block) + " h" +
         joined(u.attention_heads) + " t" + joined(u.transformer_layers_per_block) + " a" + attends +
         (u.use_linear_projection ? " lin" : "") + (u.has_text_time() ? " xl" : "") + " s" +
         std::to_string(u.sample_size) + " ctx" + std::to_string(u.cross_attention_dim);
}

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
  if (round == CalibrationRound::unet_step)
    return "unet-step " + unet_shape + " " + c10::toString(dtype) + " b2 step2";
  return "unet-level0 c" + std::to_string(channels) + " " + std::to_string(height) + "x" +
         std::to_string(width) + " d" + std::to_string(head_dim) + " g" + std::to_string(groups) + " ctx" +
         std::to_string(context_dim) + " " + c10::toString(dtype) + " mix3";
}

std::string CalibrationWorkload::describe() const {
  return round == CalibrationRound::unet_step ? "one CFG step of the UNet" : "the op mix at the first level";
}

double unet_step_multiply_adds(const UNetConfig& unet) {
  // Per level: 2 * layers + 1 resnets (down and up blocks) of two 3x3 convolutions at the level's
  // width; the mid block's two resnets at the last level.
  double total = 0;
  double side = static_cast<double>(std::max<std::int64_t>(unet.sample_size, 1));
  const std::size_t levels = unet.block_out_channels.size();
  for (std::size_t l = 0; l < levels; ++l) {
    const double c = static_cast<double>(unet.block_out_channels[l]);
    const double layers =
        static_cast<double>(l < unet.layers_per_block.size() ? unet.layers_per_block[l] : 2);
    const double conv = 9 * c * c * side * side;
    total += conv * 2 * (2 * layers + 1);
    if (l + 1 == levels) total += conv * 4;
    side = std::ceil(side / 2);
  }
  return total;
}

CalibrationWorkload calibration_workload(const UNetConfig& unet, at::ScalarType dtype) {
  CalibrationWorkload w;
  if (unet_step_multiply_adds(unet) <= kMaxStepMultiplyAdds) {
    w.round = CalibrationRound::unet_step;
    w.unet_shape = unet_shape(unet);
  }
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

std::function<void()> calibration_round(const CalibrationWorkload& workload, UNet2DConditionModel unet) {
  c10::InferenceMode inference;  // the inputs are made as the backend's phases make theirs
  if (workload.round == CalibrationRound::unet_step) {
    if (!unet) throw std::invalid_argument("calibration_round: a unet_step workload needs the loaded UNet");
    return [step = std::make_shared<UNetStep>(std::move(unet), workload.dtype)] { (*step)(); };
  }
  return [mix = std::make_shared<OpMix>(workload), head_dim = workload.head_dim] { (*mix)(head_dim); };
}

std::vector<SplitTiming> time_splits(const std::function<void()>& round,
                                     const std::vector<ThreadSplit>& candidates,
                                     const CalibrationOptions& options) {
  c10::InferenceMode inference;  // as the backend's phases run
  std::vector<SplitTiming> out;
  if (candidates.empty()) return out;
  // Every candidate once untimed (thread pools start, oneDNN builds its kernels), then the rounds'
  // length from the first candidate's warm time.
  double first = 0;
  for (const auto& c : candidates) {
    apply_split(c);
    const auto start = Clock::now();
    round();
    if (out.empty()) first = seconds(start);
    out.push_back({c, {}});
  }
  apply_split(candidates.front());
  const auto start = Clock::now();
  round();
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
      // One round untimed after the switch: the previous split's threads go on spinning for a while
      // (OpenBLAS's for about 0.1 s) on the cores this one needs. Timed right after 1/2, the tiny
      // UNet's step took 67 ms on 2/1, after a round of 2/1 33 ms, its speed in a real job.
      round();
      const auto round_start = Clock::now();
      for (int k = 0; k < repeats; ++k) round();
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
