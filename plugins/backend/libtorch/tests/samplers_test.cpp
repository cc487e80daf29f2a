// Samplers against diffusers 0.31: schedules (timesteps, sigmas, init_noise_sigma) for every variant
// and step count of the reference, single steps from recorded inputs, free-running replays of the
// recorded model outputs, and bit-exact resume from saved sampler state.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <memory>

#include "common/reference.hpp"
#include "io/safetensors.hpp"
#include "sampler_test_util.hpp"
#include "samplers/noise_schedule.hpp"
#include "samplers/sampler.hpp"

namespace ftdr::test {
namespace {

using torchbe::make_sampler;
using torchbe::Sampler;

class SamplerParity : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto root = reference_dir();
    if (!root) return;
    for (const char* name : {"tiny-sd1", "tiny-sd2v"}) models_.push_back(ModelReference::load(*root, name));
  }
  static void TearDownTestSuite() { models_.clear(); }
  void SetUp() override {
    FTDR_REQUIRE_REFERENCE(root);
    (void)root;
  }

  // A sampler for a pipeline run, configured exactly as the run's scheduler.
  static std::unique_ptr<Sampler> run_sampler(const ModelReference& m, const std::string& run) {
    const auto& r = m.ref["runs"][run];
    auto s = make_sampler(sampler_of(run), m.scheduler_config_for(r["scheduler_overrides_on_pipe_config"]),
                          r["eta"].get<double>());
    s->set_timesteps(r["num_inference_steps"].get<int>());
    return s;
  }
  // The recorded runs with per-step tensors (the 4-step runs).
  static std::vector<std::string> stepped_runs(const ModelReference& m) {
    std::vector<std::string> runs;
    for (auto it = m.ref["runs"].begin(); it != m.ref["runs"].end(); ++it) {
      if (m.has(it.key() + ".step_sample")) runs.push_back(it.key());
    }
    return runs;
  }
  static at::Tensor recorded_noise(const ModelReference& m, const std::string& run, int i) {
    return m.has(run + ".step_noise") ? m.tensor(run + ".step_noise")[i] : at::Tensor();
  }

  static std::vector<ModelReference> models_;
};
std::vector<ModelReference> SamplerParity::models_;

TEST_F(SamplerParity, AlphasCumprodBitIdentical) {
  for (const auto& m : models_) {
    torchbe::NoiseSchedule schedule(
        torchbe::SchedulerConfig::resolve(m.scheduler_file, torchbe::SamplerKind::pndm));
    const at::Tensor ours = at::tensor(schedule.alphas_cumprod(), at::kFloat);
    EXPECT_EQ(max_abs_diff(ours, m.tensor("sched.alphas_cumprod")), 0.0) << m.name;
  }
}

TEST_F(SamplerParity, TimestepsSigmasAndInitNoiseSigmaForEveryVariant) {
  int checked = 0;
  double worst_t = 0, worst_s = 0;
  for (const auto& m : models_) {
    for (auto it = m.ref["schedulers"].begin(); it != m.ref["schedulers"].end(); ++it) {
      const std::string variant = it.key();
      const auto& info = it.value();
      for (int n : {4, 10, 20, 50}) {
        SCOPED_TRACE(m.name + " " + variant + " n" + std::to_string(n));
        auto s = make_sampler(sampler_of(variant), m.scheduler_config_for(info["overrides_on_pipe_config"]));
        s->set_timesteps(n);
        const std::string key = "sched." + variant + ".n" + std::to_string(n);
        const at::Tensor ref_t = m.tensor(key + ".timesteps");
        ASSERT_EQ(static_cast<int64_t>(s->timesteps().size()), ref_t.numel());
        const double dt = max_abs_diff(at::tensor(s->timesteps(), at::kDouble), ref_t);
        EXPECT_LE(dt, 1e-6);
        worst_t = std::max(worst_t, dt);
        if (m.has(key + ".sigmas")) {
          const at::Tensor ref_s = m.tensor(key + ".sigmas");
          ASSERT_EQ(static_cast<int64_t>(s->sigmas().size()), ref_s.numel());
          const double ds = max_abs_diff(at::tensor(s->sigmas(), at::kDouble), ref_s);
          EXPECT_LE(ds, 1e-6);
          worst_s = std::max(worst_s, ds);
        } else {
          EXPECT_TRUE(s->sigmas().empty());
        }
        const double ref_init = info["init_noise_sigma"][std::to_string(n)].get<double>();
        EXPECT_NEAR(s->init_noise_sigma(), ref_init, 1e-6 * ref_init);
        ++checked;
      }
    }
  }
  EXPECT_EQ(checked, 2 * 19 * 4);
  std::cout << "[ measured ] schedules: " << checked << " checked, max |dt| " << worst_t << ", max |dsigma| "
            << worst_s << "\n";
}

TEST_F(SamplerParity, RunTimestepsMatchPipelineRuns) {
  for (const auto& m : models_) {
    for (auto it = m.ref["runs"].begin(); it != m.ref["runs"].end(); ++it) {
      SCOPED_TRACE(m.name + " " + it.key());
      auto s = run_sampler(m, it.key());
      const auto ref = it.value()["timesteps"].get<std::vector<double>>();
      EXPECT_EQ(s->timesteps(), ref);
      EXPECT_NEAR(s->init_noise_sigma(), it.value()["init_noise_sigma"].get<double>(), 1e-6);
    }
  }
}

// Teacher forcing: every step starts from the recorded sample, with the sampler's own history.
TEST_F(SamplerParity, EachStepFromRecordedInputsMatchesNextSample) {
  double worst = 0;
  int steps = 0;
  for (const auto& m : models_) {
    for (const auto& run : stepped_runs(m)) {
      auto s = run_sampler(m, run);
      const at::Tensor samples = m.tensor(run + ".step_sample");
      const at::Tensor preds = m.tensor(run + ".step_noise_pred");
      const int total = s->num_steps();
      ASSERT_EQ(samples.size(0), total) << run;
      for (int i = 0; i < total; ++i) {
        SCOPED_TRACE(m.name + " " + run + " step " + std::to_string(i));
        const at::Tensor out = s->step(preds[i], i, samples[i], recorded_noise(m, run, i));
        const at::Tensor ref = i + 1 < total ? samples[i + 1] : m.tensor(run + ".latents_final");
        const double rel = rel_diff(out, ref);
        EXPECT_LE(rel, 1e-5);
        worst = std::max(worst, rel);
        ++steps;
      }
    }
  }
  EXPECT_GT(steps, 0);
  std::cout << "[ measured ] single steps: " << steps << ", worst rel diff " << worst << "\n";
}

// Free running: only the recorded model outputs (and ancestral noise) are injected.
TEST_F(SamplerParity, MultistepReplayFromRecordedModelOutputs) {
  double worst = 0;
  for (const auto& m : models_) {
    for (const auto& run : stepped_runs(m)) {
      SCOPED_TRACE(m.name + " " + run);
      auto s = run_sampler(m, run);
      const at::Tensor preds = m.tensor(run + ".step_noise_pred");
      at::Tensor x = m.tensor(run + ".latents_init") * s->init_noise_sigma();
      EXPECT_LE(rel_diff(x, m.tensor(run + ".step_sample")[0]), 1e-7);
      for (int i = 0; i < s->num_steps(); ++i) x = s->step(preds[i], i, x, recorded_noise(m, run, i));
      const double rel = rel_diff(x, m.tensor(run + ".latents_final"));
      EXPECT_LE(rel, 1e-5);
      worst = std::max(worst, rel);
    }
  }
  std::cout << "[ measured ] replays: worst rel diff of final latents " << worst << "\n";
}

// Steps [0, k) in one sampler, state through a safetensors file, [k, S) in a fresh one: bit-identical.
TEST_F(SamplerParity, ResumeFromSavedStateIsBitIdentical) {
  const auto tmp =
      std::filesystem::temp_directory_path() / ("ftdr_sampler_state_" + std::to_string(::getpid()));
  std::filesystem::create_directories(tmp);
  int resumes = 0;
  for (const auto& m : models_) {
    for (const auto& run : stepped_runs(m)) {
      const at::Tensor preds = m.tensor(run + ".step_noise_pred");
      auto full = run_sampler(m, run);
      const at::Tensor x0 = m.tensor(run + ".latents_init") * full->init_noise_sigma();
      at::Tensor expected = x0;
      for (int i = 0; i < full->num_steps(); ++i)
        expected = full->step(preds[i], i, expected, recorded_noise(m, run, i));
      for (int k = 1; k < full->num_steps(); ++k) {
        SCOPED_TRACE(m.name + " " + run + " resume at " + std::to_string(k));
        auto first = run_sampler(m, run);
        at::Tensor x = x0;
        for (int i = 0; i < k; ++i) x = first->step(preds[i], i, x, recorded_noise(m, run, i));
        auto state = first->state();
        state.emplace_back("latents", x);
        const auto file = tmp / "state.safetensors";
        torchbe::save_safetensors(file, state);
        const auto loaded = torchbe::SafeTensorsFile::open(file);
        torchbe::SamplerState restored;
        for (const auto& key : loaded.keys()) restored.emplace_back(key, loaded.load(key));
        auto second = run_sampler(m, run);
        second->load_state(restored);
        at::Tensor y = loaded.load("latents");
        for (int i = k; i < second->num_steps(); ++i)
          y = second->step(preds[i], i, y, recorded_noise(m, run, i));
        EXPECT_TRUE(at::equal(y, expected));
        ++resumes;
      }
    }
  }
  std::filesystem::remove_all(tmp);
  EXPECT_GT(resumes, 0);
}

}  // namespace
}  // namespace ftdr::test
