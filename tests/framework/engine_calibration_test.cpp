// ExecutionEngine with memory calibration: calibrated estimates reach the policy before the phase
// runs, the decision lands in PhaseRecord, finished phases teach the calibration.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "framework/scripted_backend.hpp"
#include "ftdr/framework/engine/execution_engine.hpp"

using namespace ftdr::framework;
namespace fs = std::filesystem;
using ftdr::sdk::AttentionMode;
using ftdr::sdk::Phase;
using ftdr::test::ScriptedBackend;

namespace engine_calibration_test {
namespace {

// Switches slicing (diffusion) / tiling (decoding) on when the estimate exceeds the budget, as the
// shipped policies do (plugins/memory/common), with no weights counted.
class ThresholdPolicy final : public ftdr::sdk::MemoryPolicy {
 public:
  std::vector<ftdr::sdk::PlacementRequest> requests;
  ftdr::sdk::Placement place(const ftdr::sdk::PlacementRequest& r) override {
    requests.push_back(r);
    ftdr::sdk::Placement p;
    p.options = r.options;
    p.on_device = r.needed;
    const bool over = r.estimated_activation_bytes > r.budget_bytes;
    if (over && r.next == Phase::diffusion) p.options.attention = AttentionMode::sliced;
    if (over && r.next == Phase::decoding) p.options.vae_tiling = true;
    p.reason = over ? "over budget" : "fits";
    return p;
  }
  const ftdr::sdk::PlacementRequest& request_for(Phase phase) const {
    for (const auto& r : requests)
      if (r.next == phase) return r;
    throw std::runtime_error("no request for the phase");
  }
};

ftdr::sdk::GenerationRequest request() {
  ftdr::sdk::GenerationRequest r;
  r.prompt = "p";
  r.width = 64;
  r.height = 64;
  r.steps = 2;
  return r;
}

const PhaseRecord& record_of(const JobResult& result, Phase phase) {
  for (const auto& p : result.metrics.phases)
    if (p.phase == phase) return p;
  throw std::runtime_error("no record for the phase");
}

class EngineCalibrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("ftdr_engine_calibration_" +
            std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    cfg_.state_dir = dir_.string();
    cfg_.budget_bytes = 2000;
  }
  void TearDown() override { fs::remove_all(dir_); }
  JobResult run(ExecutionEngine& engine, JobId id) {
    Job job(id, request(), ftdr::sdk::Priority::normal);
    AttemptOutcome o = engine.run_attempt(job);
    EXPECT_EQ(o.state, ExecutionState::completed);
    return *o.result;
  }

  fs::path dir_;
  EngineConfig cfg_;
  std::shared_ptr<ScriptedBackend> backend_ = std::make_shared<ScriptedBackend>();
  std::shared_ptr<ThresholdPolicy> policy_ = std::make_shared<ThresholdPolicy>();
};

TEST_F(EngineCalibrationTest, UncalibratedEstimateWithinBudgetLeavesSlicingOff) {
  ExecutionEngine engine(EnginePlugins{backend_, policy_, nullptr, nullptr}, cfg_);
  JobResult r = run(engine, 1);
  EXPECT_EQ(policy_->request_for(Phase::diffusion).estimated_activation_bytes, 1000u);
  EXPECT_EQ(r.final_params.options.attention, AttentionMode::automatic);
  const PhaseRecord& d = record_of(r, Phase::diffusion);
  EXPECT_EQ(d.estimate_bytes, 1000u);
  EXPECT_DOUBLE_EQ(d.calibration_ratio, 1.0);
  EXPECT_EQ(d.calibrated_estimate_bytes, 1000u);
  EXPECT_EQ(d.budget_bytes, 2000u);
  EXPECT_EQ(d.memory_saving, "");
  EXPECT_EQ(d.calibration_key, "scripted|diffusion|auto|f32|cuda");
}

TEST_F(EngineCalibrationTest, CalibratedEstimateAboveBudgetSwitchesSlicingOnBeforeTheRun) {
  std::ofstream(dir_ / "memory_calibration.json")
      << R"({"version": 1, "entries": {"scripted|diffusion|auto|f32|cuda": {"ratio": 4, "samples": 2}}})";
  ExecutionEngine engine(EnginePlugins{backend_, policy_, nullptr, nullptr}, cfg_);
  JobResult r = run(engine, 1);
  const auto& asked = policy_->request_for(Phase::diffusion);
  EXPECT_EQ(asked.estimated_activation_bytes, 4000u) << "backend 1000 x learnt 4";
  EXPECT_EQ(asked.estimated_activation_bytes_sliced, 100u) << "the sliced key is still unknown";
  EXPECT_EQ(asked.budget_bytes, 2000u);
  EXPECT_EQ(r.final_params.options.attention, AttentionMode::sliced) << "diffusion ran sliced";
  const PhaseRecord& d = record_of(r, Phase::diffusion);
  EXPECT_EQ(d.estimate_bytes, 1000u);
  EXPECT_DOUBLE_EQ(d.calibration_ratio, 4.0);
  EXPECT_EQ(d.calibrated_estimate_bytes, 4000u);
  EXPECT_EQ(d.budget_bytes, 2000u);
  EXPECT_EQ(d.memory_saving, "attention slicing");
  EXPECT_EQ(d.placement_reason, "over budget");
  EXPECT_EQ(d.calibration_key, "scripted|diffusion|sliced|f32|cuda") << "learnt under what it ran with";
  EXPECT_EQ(d.ran_estimate_bytes, 100u);
  EXPECT_EQ(record_of(r, Phase::encoding).memory_saving, "");
}

TEST_F(EngineCalibrationTest, FinishedPhasesTeachTheCalibrationAndTheNextJobUsesIt) {
  backend_->allocated_bytes = 1000;  // weights on the device when the work starts
  backend_->peak_bytes = 5000;       // allocator peak: 4000 bytes of activations
  ExecutionEngine engine(EnginePlugins{backend_, policy_, nullptr, nullptr}, cfg_);
  JobResult first = run(engine, 1);
  EXPECT_EQ(first.final_params.options.attention, AttentionMode::automatic);
  EXPECT_EQ(record_of(first, Phase::diffusion).measured_activation_bytes, 4000u);
  ASSERT_NE(engine.calibration(), nullptr);
  EXPECT_DOUBLE_EQ(engine.calibration()->ratio("scripted|diffusion|auto|f32|cuda"), 4.0);
  EXPECT_TRUE(fs::exists(dir_ / "memory_calibration.json"));

  JobResult second = run(engine, 2);
  EXPECT_EQ(second.final_params.options.attention, AttentionMode::sliced);
  EXPECT_EQ(record_of(second, Phase::diffusion).calibrated_estimate_bytes, 4000u);

  ExecutionEngine restarted(EnginePlugins{backend_, std::make_shared<ThresholdPolicy>(), nullptr, nullptr},
                            cfg_);
  EXPECT_DOUBLE_EQ(restarted.calibration()->ratio("scripted|diffusion|auto|f32|cuda"), 4.0)
      << "read from the file";
}

TEST_F(EngineCalibrationTest, FailedPhasesTeachNothing) {
  backend_->peak_bytes = 9000;
  backend_->fail_next(Phase::diffusion, ftdr::sdk::ErrorKind::out_of_memory);
  ExecutionEngine engine(EnginePlugins{backend_, policy_, nullptr, nullptr}, cfg_);
  Job job(1, request(), ftdr::sdk::Priority::normal);
  EXPECT_EQ(engine.run_attempt(job).state, ExecutionState::failed);
  EXPECT_EQ(engine.calibration()->samples("scripted|diffusion|auto|f32|cuda"), 0);
  EXPECT_EQ(engine.calibration()->samples("scripted|encoding|auto|f32|cuda"), 1);
}

TEST_F(EngineCalibrationTest, CalibrationCanBeSwitchedOff) {
  cfg_.calibrate_memory = false;
  backend_->peak_bytes = 5000;
  ExecutionEngine engine(EnginePlugins{backend_, policy_, nullptr, nullptr}, cfg_);
  run(engine, 1);
  EXPECT_EQ(engine.calibration(), nullptr);
  EXPECT_FALSE(fs::exists(dir_ / "memory_calibration.json"));
}

}  // namespace
}  // namespace engine_calibration_test
