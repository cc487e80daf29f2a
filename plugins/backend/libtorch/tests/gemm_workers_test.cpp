// nn/gemm_workers.hpp: when GEMMs may run side by side, and run_side_by_side() running every item
// once, on each of libtorch's threads, in the caller's inference mode, with its exceptions.
#include "nn/gemm_workers.hpp"

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

#include "gemms_side_by_side.hpp"
#include "thread_count.hpp"

namespace ftdr::test {
namespace {

using torchbe::gemm_workers;
using torchbe::note_blas_threads;
using torchbe::run_side_by_side;

TEST(GemmWorkers, SideBySideOnlyWhenTheBlasIsKnownToRunOnOneThread) {
  ThreadCount two(2);
  note_blas_threads(0);
  EXPECT_EQ(gemm_workers(), 1) << "BLAS threads not known";
  note_blas_threads(2);
  EXPECT_EQ(gemm_workers(), 1) << "a multi-threaded BLAS";
  note_blas_threads(1);
  EXPECT_EQ(gemm_workers(), 2);
  {
    ThreadCount one(1);
    EXPECT_EQ(gemm_workers(), 1) << "one intra-op thread";
  }
  note_blas_threads(0);
}

TEST(GemmWorkers, EveryItemRunsOnceOnEachWorkersOwnThreadInTheCallersInferenceMode) {
  GemmsSideBySide on;
  const int workers = gemm_workers();
  ASSERT_EQ(workers, 2);
  c10::InferenceMode inference;
  const at::Tensor out = at::zeros({7});  // an inference tensor: written outside inference mode, it throws
  std::mutex mutex;
  std::vector<int> runs(7, 0);
  std::vector<std::set<std::thread::id>> threads(workers);
  run_side_by_side(7, workers, [&](std::int64_t item, int worker) {
    out[item].fill_(static_cast<double>(item));
    std::lock_guard<std::mutex> lock(mutex);
    ++runs[static_cast<std::size_t>(item)];
    threads[static_cast<std::size_t>(worker)].insert(std::this_thread::get_id());
  });
  EXPECT_EQ(runs, std::vector<int>(7, 1));
  EXPECT_TRUE(at::equal(out, at::arange(7, at::kFloat)));
  ASSERT_EQ(threads[0].size(), 1u);
  ASSERT_EQ(threads[1].size(), 1u);
  EXPECT_NE(*threads[0].begin(), *threads[1].begin()) << "the two workers ran on one thread";
  EXPECT_EQ(*threads[0].begin(), std::this_thread::get_id()) << "worker 0 is the caller's thread";
}

TEST(GemmWorkers, OneWorkerRunsTheItemsInOrderOnTheCallersThread) {
  ThreadCount two(2);
  const std::thread::id caller = std::this_thread::get_id();
  std::vector<std::int64_t> order;
  run_side_by_side(4, 1, [&](std::int64_t item, int worker) {
    EXPECT_EQ(worker, 0);
    EXPECT_EQ(std::this_thread::get_id(), caller);
    order.push_back(item);
  });
  EXPECT_EQ(order, (std::vector<std::int64_t>{0, 1, 2, 3}));
}

TEST(GemmWorkers, AnItemsExceptionReachesTheCaller) {
  GemmsSideBySide on;
  try {
    run_side_by_side(6, gemm_workers(), [](std::int64_t item, int) {
      if (item == 4) throw std::runtime_error("item 4 failed");
    });
    FAIL() << "no exception";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "item 4 failed");
  }
}

}  // namespace
}  // namespace ftdr::test
