// tools/training_loop.hpp: what the demo-model training phases share: options, the learning-rate
// schedule, checkpoints (weights + Adam state + step, so an interrupted phase resumes as the same
// run) and progress logging.
#pragma once
#include <ATen/ATen.h>
#include <torch/nn.h>
#include <torch/optim.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

namespace ftdr::demo {

struct PhaseOptions {
  std::string name;  // "vae" or "diffusion": names the checkpoint files
  std::int64_t steps = 1000;
  int batch = 16;
  double lr = 1e-3;
  std::int64_t warmup = 100;       // linear warm-up steps
  double decay_start = 0.7;        // fraction of steps after which lr falls linearly ...
  double final_lr_fraction = 0.1;  // ... to this fraction of lr at the last step
  std::uint64_t seed = 1;
  double time_budget_s = 0;  // > 0: stop the phase (checkpointed) once exceeded
  int log_every = 50;
  int checkpoint_every = 250;
  std::filesystem::path work_dir;
  at::Device device = at::kCPU;  // where the networks train; data and noise are drawn on the CPU
};

double scheduled_lr(const PhaseOptions& o, std::int64_t step);
void set_lr(torch::optim::Adam& opt, double lr);

// Checkpoint of one phase: <work>/<name>.<module>.safetensors (float32), <work>/<name>.adam.pt,
// <work>/<name>.state.json ({"step": N, "done": bool}).
struct NamedModule {
  std::string name;
  torch::nn::Module* module;
};
void save_checkpoint(const PhaseOptions& o, const std::vector<NamedModule>& modules, torch::optim::Adam& opt,
                     std::int64_t step, bool done);
// Returns the step to continue from (0 when there is no checkpoint); true in `done` when the
// phase had finished.
std::int64_t load_checkpoint(const PhaseOptions& o, const std::vector<NamedModule>& modules,
                             torch::optim::Adam& opt, bool& done);

// Running mean of the loss, printed every log_every steps with the speed.
class ProgressLog {
 public:
  explicit ProgressLog(const PhaseOptions& o, std::int64_t first_step);
  void add(std::int64_t step, double loss);
  double elapsed_s() const;

 private:
  const PhaseOptions& o_;
  std::chrono::steady_clock::time_point start_;
  std::int64_t first_step_;
  double sum_ = 0;
  int count_ = 0;
};

}  // namespace ftdr::demo
