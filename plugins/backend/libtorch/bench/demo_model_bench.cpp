// bench/demo_model_bench.cpp (ftdr_bench_demo_model): how long the embedded demo model takes for one
// 64x64 image on the CPU at the default settings (configs/default.toml: 20 steps, CFG 7.5, the
// model's own DDIM), end to end through the backend (encode -> denoise -> decode).
//
//   ftdr_bench_demo_model [--runs N] [--threads N] [--model DIR]
//
// Prints the median and best of --runs (default 7) after one warm-up run. Asserts nothing. Threads
// are the backend's defaults, as `ftdr generate` with configs/default.toml (threads = 0) has them;
// --threads N sets libtorch's intra-op threads instead.
#include <ATen/Parallel.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "demo_generate.hpp"

int main(int argc, char** argv) {
  int runs = 7, threads = 0;
  std::string model = std::string(FTDR_SOURCE_DIR) + "/models/ftdr-shapes";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--runs")
      runs = std::max(1, std::atoi(argv[i + 1]));
    else if (flag == "--threads")
      threads = std::max(1, std::atoi(argv[i + 1]));
    else if (flag == "--model")
      model = argv[i + 1];
    else {
      std::fprintf(stderr, "usage: ftdr_bench_demo_model [--runs N] [--threads N] [--model DIR]\n");
      return 1;
    }
  }
  try {
    ftdr::demo::DemoGenerator gen(model);
    if (threads > 0) at::set_num_threads(threads);
    gen.generate(ftdr::demo::kDemoPrompt, 0);  // warm-up: first-touch allocations
    std::vector<double> ms;
    for (int r = 0; r < runs; ++r) {
      const auto start = std::chrono::steady_clock::now();
      gen.generate(ftdr::demo::kDemoPrompt, ftdr::demo::kDemoSeed + r);
      ms.push_back(
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
    }
    std::sort(ms.begin(), ms.end());
    std::printf(
        "demo model %s, 64x64, %d steps, CFG %.1f, %d intra-op threads: median %.0f ms, best %.0f ms "
        "(%d runs; goal <= 2000 ms)\n",
        model.c_str(), ftdr::demo::kDemoSteps, ftdr::demo::kDemoGuidance, at::get_num_threads(),
        ms[ms.size() / 2], ms.front(), runs);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ftdr_bench_demo_model: %s\n", e.what());
    return 1;
  }
}
