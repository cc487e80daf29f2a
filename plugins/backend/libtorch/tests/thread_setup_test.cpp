// threads = 0 in a real TorchBackend: a decision cached in state_dir for this machine and model is
// applied without measuring; without one the backend measures and caches it; threads = N is taken
// as given. diagnostics() (what `ftdr doctor` prints) says which threads run and why.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "adapter/blas_info.hpp"
#include "adapter/torch_backend.hpp"
#include "backend_test_support.hpp"
#include "common/reference.hpp"
#include "io/model_folder.hpp"
#include "threads/thread_calibration.hpp"
#include "threads/thread_setup.hpp"

namespace ftdr::test {
namespace {

namespace fs = std::filesystem;
using torchbe::ThreadSplit;

fs::path fresh_state_dir(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("ftdr_threads_test_" + std::to_string(::getpid())) / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

std::string line_starting(const std::vector<std::string>& lines, const std::string& prefix) {
  for (const auto& l : lines)
    if (l.rfind(prefix, 0) == 0) return l;
  return "";
}

std::string tiny_workload(const fs::path& root) {
  return torchbe::calibration_workload(torchbe::read_model_folder(root / "tiny-sd1").unet, at::kFloat).key();
}

// Puts the threads back as the other tests of this process found them.
class ThreadSetup : public ::testing::Test {
 protected:
  void TearDown() override { torchbe::apply_split({before_intra_, before_blas_}); }
  int before_intra_ = at::get_num_threads();
  int before_blas_ = torchbe::openblas_threads();
};

TEST_F(ThreadSetup, ACachedDecisionForThisMachineAndModelIsAppliedWithoutMeasuring) {
  FTDR_REQUIRE_REFERENCE(root);
  const fs::path dir = fresh_state_dir("cached");
  const bool blas_settable = torchbe::openblas_threads() > 0;
  const ThreadSplit split = torchbe::candidate_splits(torchbe::usable_cores(), blas_settable).back();
  torchbe::ThreadCache cache;
  cache.put(
      {torchbe::this_machine(), tiny_workload(root), split, {{split, {0.010, 0.011}}, {{1, 1}, {0.02}}}});
  const std::string path = torchbe::thread_cache_path(dir.string());
  std::ofstream(path) << cache.to_json().dump();

  sdk::PluginContext ctx = cpu_context();
  ctx.state_dir = dir.string();
  torchbe::TorchBackend backend(ctx);
  backend.load((root / "tiny-sd1").string());
  EXPECT_EQ(at::get_num_threads(), split.intra_op);
  if (blas_settable) {
    EXPECT_EQ(torchbe::openblas_threads(), split.blas);
  }
  const auto lines = backend.diagnostics();
  EXPECT_EQ(line_starting(lines, "thread choice: "),
            "thread choice: threads = 0: " + torchbe::to_string(split) + ", from " + path + "; " +
                torchbe::to_string(split) + ": 10.0 ms per round at best; fastest round (intra-op/BLAS): " +
                std::to_string(split.intra_op) + "/" + std::to_string(split.blas) + " 10.0 ms, 1/1 20.0 ms");
  EXPECT_EQ(line_starting(lines, "threads: ")
                .rfind("threads: " + std::to_string(split.intra_op) + " intra-op, ", 0),
            0u)
      << ::testing::PrintToString(lines);
  if (blas_settable) {
    EXPECT_NE(
        line_starting(lines, "threads: ").find(", " + std::to_string(split.blas) + " BLAS (OpenBLAS), "),
        std::string::npos)
        << ::testing::PrintToString(lines);
  }
}

TEST_F(ThreadSetup, WithoutACachedDecisionTheBackendMeasuresAndCachesIt) {
  FTDR_REQUIRE_REFERENCE(root);
  const fs::path dir = fresh_state_dir("measure");
  sdk::PluginContext ctx = cpu_context();
  ctx.state_dir = dir.string();
  torchbe::TorchBackend backend(ctx);
  backend.load((root / "tiny-sd1").string());
  const std::string line = line_starting(backend.diagnostics(), "thread choice: ");
  EXPECT_NE(line.find(", measured now in "), std::string::npos) << line;
  EXPECT_NE(line.find(" (rounds of one CFG step of the UNet), "), std::string::npos) << line;  // a small UNet
  const std::string path = torchbe::thread_cache_path(dir.string());
  // Cached whether or not this machine was too busy to trust the timings (the line then says so):
  // the next process must run with the same split.
  ASSERT_TRUE(fs::exists(path)) << line;
  EXPECT_NE(line.find(", cached in " + path + "; "), std::string::npos) << line;
  const auto cache = torchbe::ThreadCache::from_json(nlohmann::json::parse(std::ifstream(path)));
  const auto hit = cache.find(torchbe::this_machine(), tiny_workload(root), torchbe::openblas_threads() > 0);
  ASSERT_TRUE(hit.has_value());
  EXPECT_EQ(hit->split.intra_op, at::get_num_threads());
  EXPECT_EQ(hit->timings.size(),
            torchbe::candidate_splits(torchbe::usable_cores(), torchbe::openblas_threads() > 0).size());
}

TEST_F(ThreadSetup, ThreadsInTheConfigAreTakenAsGivenAndNothingIsMeasured) {
  FTDR_REQUIRE_REFERENCE(root);
  const fs::path dir = fresh_state_dir("configured");
  sdk::PluginContext ctx = context_with(std::make_shared<MapConfig>(
      std::map<std::string, MapConfig::Value>{{"device", std::string("cpu")}, {"threads", std::int64_t{3}}}));
  ctx.state_dir = dir.string();
  torchbe::TorchBackend backend(ctx);
  backend.load((root / "tiny-sd1").string());
  EXPECT_EQ(at::get_num_threads(), 3);
  EXPECT_EQ(line_starting(backend.diagnostics(), "thread choice: "),
            "thread choice: threads = 3 in the config (BLAS threads as OPENBLAS_NUM_THREADS or the library's "
            "default)");
  EXPECT_FALSE(fs::exists(torchbe::thread_cache_path(dir.string())));
}

TEST(ThreadSetupWithoutModel, DiagnosticsSayThreadsAreChosenWhenAModelIsLoaded) {
  torchbe::TorchBackend backend(cpu_context());
  EXPECT_EQ(line_starting(backend.diagnostics(), "thread choice: "),
            "thread choice: threads = 0: measured when a model is loaded (libtorch's default until then)");
}

}  // namespace
}  // namespace ftdr::test
