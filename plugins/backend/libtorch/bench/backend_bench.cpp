// bench/backend_bench.cpp (ftdr_bench_backend): the libtorch backend's speed on the CPU.
//
//   ftdr_bench_backend [--runs N] [--sd15-runs N] [--quick] [--skip-sd15] [--threads N]
//                      [--attention naive|sliced|sdpa|auto] [--slice ROWS] [--reference DIR]
//
// 1. tiny-sd1 (reference/tiny-sd1), 64x64, PNDM, CFG 7.5, at 10 and 50 steps: per-phase wall time
//    (encode, denoise, decode, total), median and best of --runs (default 5), and the peak RSS.
// 2. One UNet step of an SD-1.5-size UNet (reference/sd15-configs/unet/config.json, random
//    weights), batch 2 (CFG), latents 2x4x64x64 (a 512x512 image), text 2x77x768: median and best
//    of --sd15-runs (default 5; about 25 s each with OpenBLAS on 2 cores), and the peak RSS.
// --quick: 1 run of each, tiny-sd1 at 10 steps only, 1 SD-1.5 step. Prints a table; asserts nothing.
// diffusers' figures for the same work on this kind of machine are in reference/TIMINGS.md.
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "adapter/blas_info.hpp"
#include "adapter/memory_stats.hpp"
#include "adapter/torch_backend.hpp"
#include "ftdr/sdk/error.hpp"
#include "unet/unet_2d_condition_model.hpp"
#include "unet/unet_config.hpp"

namespace {

using Clock = std::chrono::steady_clock;
namespace sdk = ftdr::sdk;

struct Options {
  int runs = 5, sd15_runs = 5, threads = 0, slice = 0;
  bool quick = false, skip_sd15 = false;
  std::string attention = "auto";
  std::filesystem::path reference;
};

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

double best(const std::vector<double>& v) { return *std::min_element(v.begin(), v.end()); }

double peak_rss_mb() { return ftdr::torchbe::query_memory_stats(at::kCPU).peak_bytes / 1e6; }

void reset_peak() { ftdr::torchbe::reset_peak_memory_stats(at::kCPU); }

class NullObserver final : public sdk::StepObserver {
 public:
  void on_step(const sdk::StepEvent&) override {}
};

class BenchConfig final : public sdk::ConfigView {
 public:
  explicit BenchConfig(const Options& o) : o_(o) {}
  bool has(const std::string&) const override { return true; }
  std::string get_string(const std::string& k, const std::string& f) const override {
    if (k == "device") return "cpu";
    if (k == "attention") return o_.attention;
    return f;
  }
  std::int64_t get_int(const std::string& k, std::int64_t f) const override {
    if (k == "threads") return o_.threads;
    return k == "attention_slice_size" ? o_.slice : f;
  }
  double get_double(const std::string&, double f) const override { return f; }
  bool get_bool(const std::string& k, bool f) const override { return k == "health_check" ? true : f; }
  std::vector<std::string> get_string_list(const std::string&) const override { return {}; }
  std::shared_ptr<const ConfigView> table(const std::string&) const override { return nullptr; }
  std::vector<std::string> keys() const override { return {}; }
  std::string where(const std::string& k) const override { return "--" + k; }
  [[noreturn]] void reject(const std::string& k, const std::string& expected) const override {
    throw sdk::Error(sdk::ErrorKind::invalid_request, where(k) + ": expected " + expected);
  }

 private:
  Options o_;
};

struct PhaseTimes {
  std::vector<double> encode, denoise, decode, total;
};

void print_row(const std::string& what, const std::vector<double>& v, const std::string& note = "") {
  std::printf("| %-34s | %9.3f | %9.3f | %3zu | %s\n", what.c_str(), median(v), best(v), v.size(),
              note.c_str());
}

void bench_tiny(ftdr::torchbe::TorchBackend& backend, int steps, int runs) {
  sdk::GenerationParams p;
  p.request.prompt = "a photo of an astronaut riding a horse on mars";
  p.request.negative_prompt = "blurry, low quality";
  p.request.steps = steps;
  p.request.seed = 600;
  p.width = p.height = p.request.width = p.request.height = 64;
  PhaseTimes t;
  NullObserver observer;
  reset_peak();
  for (int r = 0; r < runs + 1; ++r) {  // run 0 warms up (first-call allocations, thread pool start)
    const auto start = Clock::now();
    auto cond = backend.encode(p);
    const double e = seconds_since(start);
    auto lat = backend.denoise(p, *cond, nullptr, observer);
    const double d = seconds_since(start) - e;
    auto images = backend.decode(p, *lat, nullptr);
    const double total = seconds_since(start);
    if (r == 0) continue;
    t.encode.push_back(e);
    t.denoise.push_back(d);
    t.decode.push_back(total - e - d);
    t.total.push_back(total);
  }
  const std::string tag = "tiny-sd1 64x64 " + std::to_string(steps) + " steps: ";
  print_row(tag + "encode", t.encode);
  print_row(tag + "denoise", t.denoise,
            "per UNet step " + std::to_string(1e3 * median(t.denoise) / (steps + 1)).substr(0, 6) +
                " ms (PNDM: steps+1 calls)");
  print_row(tag + "decode", t.decode);
  print_row(tag + "total", t.total, "peak RSS " + std::to_string(static_cast<int>(peak_rss_mb())) + " MB");
}

void bench_sd15_unet(const Options& o) {
  std::ifstream in(o.reference / "sd15-configs" / "unet" / "config.json");
  if (!in) {
    std::printf("| SD-1.5 UNet step: skipped, %s not found\n", (o.reference / "sd15-configs").c_str());
    return;
  }
  reset_peak();
  const auto build_start = Clock::now();
  auto cfg = ftdr::torchbe::UNetConfig::from_json(nlohmann::json::parse(in), "sd15-configs/unet/config.json");
  ftdr::torchbe::UNet2DConditionModel unet(cfg);  // libtorch's random initialisation
  unet->eval();
  std::int64_t params = 0;
  for (const auto& t : unet->parameters()) params += t.numel();
  const double build_s = seconds_since(build_start);
  ftdr::torchbe::AttentionSettings settings;
  if (o.attention == "sliced") settings.mode = ftdr::torchbe::AttentionMode::sliced;
  if (o.attention == "sdpa") settings.mode = ftdr::torchbe::AttentionMode::sdpa;
  settings.slice_size = o.slice;
  unet->set_attention(settings);
  c10::InferenceMode inference;  // as the backend's denoise loop
  const at::Tensor x = at::randn({2, 4, 64, 64}), text = at::randn({2, 77, 768});
  const at::Tensor t = at::scalar_tensor(999, at::kLong);
  std::vector<double> times;
  for (int r = 0; r < o.sd15_runs; ++r) {
    const auto start = Clock::now();
    at::Tensor out = unet->forward(x, t, text);
    times.push_back(seconds_since(start));
    std::fprintf(stderr, "  sd15 unet step %d: %.2f s\n", r + 1, times.back());
  }
  print_row("SD-1.5 UNet step, batch 2, 64x64", times,
            std::to_string(params / 1000000) + " M params, built in " + std::to_string(build_s).substr(0, 5) +
                " s; peak RSS " + std::to_string(static_cast<int>(peak_rss_mb())) + " MB");
}

Options parse(int argc, char** argv) {
  Options o;
  const char* env = std::getenv("FTDR_REFERENCE_DIR");
  o.reference = env && *env ? env : FTDR_DEFAULT_REFERENCE_DIR;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) throw std::runtime_error(a + " needs a value");
      return argv[++i];
    };
    if (a == "--runs")
      o.runs = std::stoi(next());
    else if (a == "--sd15-runs")
      o.sd15_runs = std::stoi(next());
    else if (a == "--threads")
      o.threads = std::stoi(next());
    else if (a == "--attention")
      o.attention = next();
    else if (a == "--slice")
      o.slice = std::stoi(next());
    else if (a == "--reference")
      o.reference = next();
    else if (a == "--quick")
      o.quick = true;
    else if (a == "--skip-sd15")
      o.skip_sd15 = true;
    else
      throw std::runtime_error("unknown option " + a + " (see bench/backend_bench.cpp)");
  }
  if (o.quick) o.runs = o.sd15_runs = 1;
  if (o.runs < 1 || o.sd15_runs < 1) throw std::runtime_error("--runs and --sd15-runs must be >= 1");
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    std::setvbuf(stdout, nullptr, _IOLBF, 0);  // rows appear as they are measured, also in a pipe
    const Options o = parse(argc, argv);
    sdk::PluginContext ctx;
    ctx.config = std::make_shared<BenchConfig>(o);
    ftdr::torchbe::TorchBackend backend(ctx);
    for (const auto& line : backend.diagnostics()) std::printf("# %s\n", line.c_str());
    std::printf("| %-34s | %9s | %9s | %3s | %s\n", "what", "median s", "best s", "n", "notes");
    std::printf("|%s|%s|%s|%s|%s\n", std::string(36, '-').c_str(), std::string(11, '-').c_str(),
                std::string(11, '-').c_str(), std::string(5, '-').c_str(), "------");
    const auto tiny = o.reference / "tiny-sd1";
    if (std::filesystem::exists(tiny / "model_index.json")) {
      backend.load(tiny.string());
      bench_tiny(backend, 10, o.runs);
      if (!o.quick) bench_tiny(backend, 50, o.runs);
    } else {
      std::printf("| tiny-sd1: skipped, %s not found\n", tiny.c_str());
    }
    if (!o.skip_sd15) bench_sd15_unet(o);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ftdr_bench_backend: %s\n", e.what());
    return 1;
  }
}
