// tools/training_loop.cpp
#include "training_loop.hpp"

#include <torch/serialize.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "io/safetensors.hpp"
#include "io/weights.hpp"

namespace ftdr::demo {

double scheduled_lr(const PhaseOptions& o, std::int64_t step) {
  if (step < o.warmup) return o.lr * (step + 1) / static_cast<double>(o.warmup);
  const double decay_from = o.decay_start * o.steps;
  if (step < decay_from) return o.lr;
  const double t = (step - decay_from) / std::max(1.0, o.steps - decay_from);
  return o.lr * (1.0 - t * (1.0 - o.final_lr_fraction));
}

void set_lr(torch::optim::Adam& opt, double lr) {
  for (auto& group : opt.param_groups()) static_cast<torch::optim::AdamOptions&>(group.options()).lr(lr);
}

namespace {
std::filesystem::path file(const PhaseOptions& o, const std::string& what) {
  return o.work_dir / (o.name + "." + what);
}
}  // namespace

void save_checkpoint(const PhaseOptions& o, const std::vector<NamedModule>& modules, torch::optim::Adam& opt,
                     std::int64_t step, bool done) {
  std::filesystem::create_directories(o.work_dir);
  for (const auto& m : modules) {
    std::vector<std::pair<std::string, at::Tensor>> tensors;
    for (const auto& p : m.module->named_parameters()) tensors.emplace_back(p.key(), p.value().detach());
    for (const auto& b : m.module->named_buffers()) tensors.emplace_back(b.key(), b.value().detach());
    torchbe::save_safetensors(file(o, m.name + ".safetensors"), tensors);
  }
  const auto adam_path = file(o, "adam.pt");
  torch::save(opt, (adam_path.string() + ".tmp"));
  std::filesystem::rename(adam_path.string() + ".tmp", adam_path);
  // The state file is written last: it names a checkpoint whose other files are complete.
  std::ofstream(file(o, "state.json.tmp")) << nlohmann::json{{"step", step}, {"done", done}}.dump();
  std::filesystem::rename(file(o, "state.json.tmp"), file(o, "state.json"));
}

std::int64_t load_checkpoint(const PhaseOptions& o, const std::vector<NamedModule>& modules,
                             torch::optim::Adam& opt, bool& done) {
  done = false;
  if (!std::filesystem::exists(file(o, "state.json"))) return 0;
  const auto state = nlohmann::json::parse(std::ifstream(file(o, "state.json")));
  for (const auto& m : modules)
    torchbe::load_module_weights(*m.module, torchbe::SafeTensorsFile::open(file(o, m.name + ".safetensors")),
                                 at::kFloat);
  torch::load(opt, file(o, "adam.pt").string());
  done = state.at("done").get<bool>();
  std::printf("[%s] resumed from checkpoint at step %lld%s\n", o.name.c_str(),
              static_cast<long long>(state.at("step").get<std::int64_t>()), done ? " (phase done)" : "");
  return state.at("step").get<std::int64_t>();
}

ProgressLog::ProgressLog(const PhaseOptions& o, std::int64_t first_step)
    : o_(o), start_(std::chrono::steady_clock::now()), first_step_(first_step) {}

double ProgressLog::elapsed_s() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void ProgressLog::add(std::int64_t step, double loss) {
  sum_ += loss;
  ++count_;
  if ((step + 1) % o_.log_every != 0 && step + 1 != o_.steps) return;
  const double s = elapsed_s();
  const double rate = (step + 1 - first_step_) / std::max(s, 1e-9);
  std::printf("[%s] step %lld/%lld loss %.5f lr %.2e  %.1f s, %.2f steps/s, eta %.0f s\n", o_.name.c_str(),
              static_cast<long long>(step + 1), static_cast<long long>(o_.steps), sum_ / count_,
              scheduled_lr(o_, step), s, rate, (o_.steps - step - 1) / std::max(rate, 1e-9));
  std::fflush(stdout);
  sum_ = 0;
  count_ = 0;
}

}  // namespace ftdr::demo
