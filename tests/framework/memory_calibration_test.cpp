// MemoryCalibration: keys, moving average, clamp, persistence, bad files.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "ftdr/framework/engine/memory_calibration.hpp"
#include "ftdr/sdk/error.hpp"

using namespace ftdr::framework;
namespace fs = std::filesystem;
using ftdr::sdk::Phase;

namespace memory_calibration_test {
namespace {

class MemoryCalibrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ =
        fs::temp_directory_path() /
        ("ftdr_calibration_" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string file() const { return (dir_ / "memory_calibration.json").string(); }
  void write(const std::string& text) const { std::ofstream(file()) << text; }

  fs::path dir_;
};

CalibrationKey key(Phase phase = Phase::diffusion, const std::string& mode = "naive") {
  return CalibrationKey{"tiny-sd1", phase, mode, ftdr::sdk::DType::f32, ftdr::sdk::Device::cpu};
}

TEST(CalibrationKeyTest, NamesModelPhaseModeDtypeAndDevice) {
  EXPECT_EQ(key().str(), "tiny-sd1|diffusion|naive|f32|cpu");
  ftdr::sdk::RuntimeOptions o;
  o.attention = ftdr::sdk::AttentionMode::sliced;
  o.dtype = ftdr::sdk::DType::f16;
  EXPECT_EQ(calibration_key("m", Phase::diffusion, o, ftdr::sdk::Device::cuda).str(),
            "m|diffusion|sliced|f16|cuda");
  EXPECT_EQ(calibration_key("m", Phase::decoding, o, ftdr::sdk::Device::cuda).str(),
            "m|decoding|whole|f16|cuda");
  o.vae_tiling = true;
  EXPECT_EQ(calibration_key("m", Phase::decoding, o, ftdr::sdk::Device::cpu).str(),
            "m|decoding|tiled|f16|cpu");
}

TEST_F(MemoryCalibrationTest, UnknownKeyHasRatioOne) {
  MemoryCalibration cal(file());
  EXPECT_DOUBLE_EQ(cal.ratio(key()), 1.0);
  EXPECT_EQ(cal.calibrated(key(), 1000), 1000u);
  EXPECT_EQ(cal.samples(key()), 0);
  EXPECT_FALSE(fs::exists(file())) << "nothing learnt, nothing written";
}

TEST_F(MemoryCalibrationTest, FirstObservationIsTakenThenMovingAverage) {
  MemoryCalibration cal(file(), CalibrationSettings{0.5, 0.25, 4.0});
  EXPECT_DOUBLE_EQ(cal.record(key(), 1000, 2000), 2.0);
  EXPECT_EQ(cal.calibrated(key(), 1000), 2000u);
  EXPECT_DOUBLE_EQ(cal.record(key(), 1000, 1000), 1.5);  // 0.5 * 1 + 0.5 * 2
  EXPECT_DOUBLE_EQ(cal.record(key(), 1000, 500), 1.0);   // 0.5 * 0.5 + 0.5 * 1.5
  EXPECT_EQ(cal.samples(key()), 3);
  EXPECT_DOUBLE_EQ(cal.ratio(key(Phase::decoding, "whole")), 1.0) << "keys are independent";
}

TEST_F(MemoryCalibrationTest, RatiosAreClamped) {
  MemoryCalibration cal(file(), CalibrationSettings{1.0, 0.25, 4.0});
  EXPECT_DOUBLE_EQ(cal.record(key(), 100, 100000), 4.0);
  EXPECT_DOUBLE_EQ(cal.record(key(), 100000, 1), 0.25);
}

TEST_F(MemoryCalibrationTest, ZeroEstimateOrMeasurementTeachesNothing) {
  MemoryCalibration cal(file());
  EXPECT_DOUBLE_EQ(cal.record(key(), 0, 500), 1.0);
  EXPECT_DOUBLE_EQ(cal.record(key(), 500, 0), 1.0);
  EXPECT_EQ(cal.samples(key()), 0);
  cal.record(key(), 100, 300);
  EXPECT_DOUBLE_EQ(cal.record(key(), 100, 0), 3.0) << "keeps what it learnt";
}

TEST_F(MemoryCalibrationTest, PersistsAcrossInstancesAndWritesAtomically) {
  {
    MemoryCalibration cal(file());
    cal.record(key(), 1000, 3000);
    cal.record(key(Phase::decoding, "tiled"), 1000, 500);
  }
  ASSERT_TRUE(fs::exists(file()));
  for (const auto& entry : fs::directory_iterator(dir_)) {
    EXPECT_EQ(entry.path().filename(), "memory_calibration.json") << "no temporary file left behind";
  }
  const auto doc = nlohmann::json::parse(std::ifstream(file()));
  EXPECT_EQ(doc["version"], 1);
  EXPECT_DOUBLE_EQ(doc["entries"]["tiny-sd1|diffusion|naive|f32|cpu"]["ratio"].get<double>(), 3.0);
  EXPECT_EQ(doc["entries"]["tiny-sd1|diffusion|naive|f32|cpu"]["samples"].get<int>(), 1);

  MemoryCalibration again(file());
  EXPECT_DOUBLE_EQ(again.ratio(key()), 3.0);
  EXPECT_DOUBLE_EQ(again.ratio(key(Phase::decoding, "tiled")), 0.5);
  EXPECT_EQ(again.samples(key()), 1);
  EXPECT_DOUBLE_EQ(again.record(key(), 1000, 1000), 2.0) << "the average goes on from the file";
}

TEST_F(MemoryCalibrationTest, CorruptFileIsIgnoredAndReplaced) {
  write("{ this is not json");
  MemoryCalibration cal(file());
  EXPECT_DOUBLE_EQ(cal.ratio(key()), 1.0);
  cal.record(key(), 100, 200);
  MemoryCalibration again(file());
  EXPECT_DOUBLE_EQ(again.ratio(key()), 2.0) << "the next save writes a good file";
}

TEST_F(MemoryCalibrationTest, WrongShapesAndBadEntriesAreIgnored) {
  write("[1, 2, 3]");
  EXPECT_DOUBLE_EQ(MemoryCalibration(file()).ratio(key()), 1.0);
  write(R"({"version": 1, "entries": {
      "tiny-sd1|diffusion|naive|f32|cpu": {"ratio": -2},
      "tiny-sd1|diffusion|sliced|f32|cpu": {"ratio": "big"},
      "tiny-sd1|encoding|naive|f32|cpu": 7,
      "tiny-sd1|decoding|whole|f32|cpu": {"ratio": 100, "samples": 3}}})");
  MemoryCalibration cal(file());
  EXPECT_DOUBLE_EQ(cal.ratio(key()), 1.0);
  EXPECT_DOUBLE_EQ(cal.ratio(key(Phase::diffusion, "sliced")), 1.0);
  EXPECT_DOUBLE_EQ(cal.ratio(key(Phase::encoding, "naive")), 1.0);
  EXPECT_DOUBLE_EQ(cal.ratio(key(Phase::decoding, "whole")), 4.0) << "a stored ratio is clamped too";
}

TEST_F(MemoryCalibrationTest, UnwritableFileKeepsTheRatioInMemory) {
  fs::create_directories(file());  // a folder where the file should be: rename fails
  MemoryCalibration cal(file());
  EXPECT_DOUBLE_EQ(cal.record(key(), 100, 200), 2.0);
  EXPECT_DOUBLE_EQ(cal.ratio(key()), 2.0);
}

TEST_F(MemoryCalibrationTest, InMemoryWithoutAFile) {
  MemoryCalibration cal;
  cal.record(key(), 100, 150);
  EXPECT_DOUBLE_EQ(cal.ratio(key()), 1.5);
  EXPECT_TRUE(fs::is_empty(dir_));
}

TEST(MemoryCalibrationSettingsTest, RejectsSettingsOutOfRange) {
  EXPECT_THROW(MemoryCalibration("", CalibrationSettings{0.0, 0.25, 4}), ftdr::sdk::Error);
  EXPECT_THROW(MemoryCalibration("", CalibrationSettings{1.5, 0.25, 4}), ftdr::sdk::Error);
  EXPECT_THROW(MemoryCalibration("", CalibrationSettings{0.5, 0, 4}), ftdr::sdk::Error);
  EXPECT_THROW(MemoryCalibration("", CalibrationSettings{0.5, 5, 4}), ftdr::sdk::Error);
}

}  // namespace
}  // namespace memory_calibration_test
