// bench/compare_worker.cpp (ftdr_bench_compare_worker): FTDR's side of bench/compare_diffusers.py.
//
//   ftdr_bench_compare_worker --task tiny|text|unet|vae|sdxl_unet --model DIR
//
// Loads what the task needs from a diffusers model folder, then answers commands on stdin, one
// JSON line on stdout each, so the driver can interleave it with a diffusers process running the
// same work:
//   threads I B         at::set_num_threads(I) and OpenBLAS B threads -> {"intra_op":I,"blas":B}
//   threads auto DIR    what `threads = 0` picks (threads/thread_setup.hpp, cache in DIR)
//   run                 the task once -> {"seconds": s}
//   profile FILE        the task once under libtorch's profiler, a Chrome trace to FILE -> {"seconds": s}
//   stats               {"peak_rss_mb": VmHWM, "rss_mb": VmRSS}
//   quit
// Every task runs with the backend's default CPU allocator setup (cpu_block_cache = true:
// memory/cpu_block_cache.hpp; --no-block-cache leaves libtorch's own allocator).
// Tasks, each as the backend runs it (CPU, float32, inference mode):
//   tiny  encode + denoise + decode: 64x64, 10 PNDM steps, CFG 7.5, prompt and negative prompt
//         (TorchBackend, what `ftdr generate` runs minus process start and PNG writing);
//   text  the prompt and the negative prompt through tokenizer + text encoder (encode_prompts);
//   unet  one CFG step: UNet batch 2, 64x64 latents, 77 text tokens, t = 999;
//   vae   decode 1x4x64x64 latents to a 512x512 image (decode_latents, untiled), then the CPU block
//         cache released, as TorchBackend::decode does after every job;
//   sdxl_unet  one CFG step of an SDXL UNet at 1024x1024: batch 2, 128x128 latents, 77x2048 text,
//         the pooled embeddings and add_time_ids (1024, 1024, 0, 0, 1024, 1024), t = 999. DIR is
//         a UNet folder (config.json, diffusion_pytorch_model.safetensors), not a whole pipeline
//         (bench/compare_single_file.py writes one).
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>
#include <torch/csrc/autograd/profiler_legacy.h>

#include <chrono>
#include <cstdio>
#include <functional>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "adapter/blas_info.hpp"
#include "adapter/memory_stats.hpp"
#include "adapter/torch_backend.hpp"
#include "artifacts/conditioning.hpp"
#include "ftdr/sdk/error.hpp"
#include "io/model_folder.hpp"
#include "io/safetensors.hpp"
#include "io/weights.hpp"
#include "memory/cpu_block_cache.hpp"
#include "nn/empty_weights.hpp"
#include "pipeline/tiled_decode.hpp"
#include "threads/thread_calibration.hpp"
#include "threads/thread_setup.hpp"

namespace {

namespace sdk = ftdr::sdk;
namespace tb = ftdr::torchbe;

const char* const kPrompt = "a photo of an astronaut riding a horse on mars";
const char* const kNegative = "blurry, low quality";

class NullObserver final : public sdk::StepObserver {
 public:
  void on_step(const sdk::StepEvent&) override {}
};

bool use_block_cache = true;  // --no-block-cache: false

// [backend.libtorch] for the tiny task: CPU, threads set by the driver (never measured at load).
class WorkerConfig final : public sdk::ConfigView {
 public:
  bool has(const std::string&) const override { return false; }
  std::string get_string(const std::string& k, const std::string& f) const override {
    return k == "device" ? "cpu" : f;
  }
  std::int64_t get_int(const std::string& k, std::int64_t f) const override { return k == "threads" ? 1 : f; }
  double get_double(const std::string&, double f) const override { return f; }
  bool get_bool(const std::string& k, bool f) const override {
    return k == "cpu_block_cache" ? use_block_cache : f;
  }
  std::vector<std::string> get_string_list(const std::string&) const override { return {}; }
  std::shared_ptr<const ConfigView> table(const std::string&) const override { return nullptr; }
  std::vector<std::string> keys() const override { return {}; }
  std::string where(const std::string& k) const override { return "worker config " + k; }
  [[noreturn]] void reject(const std::string& k, const std::string& expected) const override {
    throw sdk::Error(sdk::ErrorKind::invalid_request, where(k) + ": expected " + expected);
  }
};

// Built empty and loaded as the runtime builds and loads it (pipeline/loaded_model.cpp): a network
// built with libtorch's random init first writes all its float32 parameters, which loading then
// replaces, and that memory would count in the worker's peak but never in `ftdr`'s.
template <class Build>
auto load_component(const tb::WeightSource& source, Build build) {
  auto net = [&] {
    tb::EmptyWeights empty(at::kFloat);
    return build();
  }();
  tb::load_module_weights(*net, source, at::kFloat);
  net->eval();
  return net;
}

template <class Build>
auto load_component(const std::filesystem::path& weights, Build build) {
  return load_component(tb::WeightSource(tb::SafeTensorsFile::open(weights)), build);
}

struct Task {
  std::function<void()> run;
  tb::CalibrationWorkload workload;        // for "threads auto"
  tb::UNet2DConditionModel unet{nullptr};  // the task's UNet, timed by "threads auto" for a small one
};

sdk::GenerationParams tiny_params() {
  sdk::GenerationParams p;
  p.request.prompt = kPrompt;
  p.request.negative_prompt = kNegative;
  p.request.steps = 10;
  p.request.cfg_scale = 7.5;
  p.request.seed = 600;
  p.width = p.height = p.request.width = p.request.height = 64;
  return p;
}

// SDXL's UNet alone, from a UNet folder: the same inputs as the diffusers side of
// bench/compare_single_file.py (randn; the values do not change the work).
Task sdxl_unet_task(const std::filesystem::path& dir) {
  const tb::UNetConfig cfg = tb::UNetConfig::from_json(tb::read_json_file(dir / "config.json"), "unet");
  Task out;
  out.workload = tb::calibration_workload(cfg, at::kFloat);
  auto unet = load_component(dir / "diffusion_pytorch_model.safetensors",
                             [&] { return tb::UNet2DConditionModel(cfg); });
  const at::Tensor x = at::randn({2, cfg.in_channels, 128, 128});
  const at::Tensor text = at::randn({2, 77, cfg.cross_attention_dim});
  const tb::UNetAddedConditions added{
      at::randn({2, cfg.pooled_text_dim()}),
      at::tensor({1024.0f, 1024.0f, 0.0f, 0.0f, 1024.0f, 1024.0f}).repeat({2, 1})};
  out.unet = unet;
  out.run = [unet, x, text, added]() mutable {
    c10::InferenceMode inference;
    (void)unet->forward(x, at::scalar_tensor(999, at::kLong), text, added);
  };
  return out;
}

Task make_task(const std::string& task, const std::filesystem::path& dir) {
  if (task == "sdxl_unet") return sdxl_unet_task(dir);
  const tb::ModelFolder folder = tb::read_model_folder(dir);
  Task out;
  out.workload = tb::calibration_workload(folder.unet, at::kFloat);
  if (task == "tiny") {
    sdk::PluginContext ctx;
    ctx.config = std::make_shared<WorkerConfig>();
    auto backend = std::make_shared<tb::TorchBackend>(ctx);
    backend->load(dir.string());
    out.unet = backend->loaded_model().unet;
    out.run = [backend] {
      const auto p = tiny_params();
      NullObserver observer;
      auto cond = backend->encode(p);
      auto latents = backend->denoise(p, *cond, nullptr, observer);
      (void)backend->decode(p, *latents, nullptr);
    };
  } else if (task == "text") {
    auto tokenizer =
        std::make_shared<tb::CLIPTokenizer>(tb::CLIPTokenizer::from_folder(folder.tokenizer_dir));
    auto te =
        load_component(folder.text_encoder_weights, [&] { return tb::CLIPTextModel(folder.text_encoder); });
    out.run = [tokenizer, te]() mutable {
      auto p = tiny_params();
      (void)tb::encode_prompts(*tokenizer, te, p, tb::PromptSettings{});
    };
  } else if (task == "unet") {
    auto unet = load_component(folder.unet_weights, [&] { return tb::UNet2DConditionModel(folder.unet); });
    const at::Tensor x = at::randn({2, folder.unet.in_channels, 64, 64});
    const at::Tensor text = at::randn({2, 77, folder.unet.cross_attention_dim});
    out.unet = unet;
    out.run = [unet, x, text]() mutable {
      c10::InferenceMode inference;
      (void)unet->forward(x, at::scalar_tensor(999, at::kLong), text);
    };
  } else if (task == "vae") {
    // The decoder alone, loaded as the runtime loads it (pipeline/loaded_model.cpp).
    auto vae = load_component(
        tb::WeightSource(tb::SafeTensorsFile::open(folder.vae_weights)).ignoring(tb::kVaeEncoderKeys),
        [&] { return tb::AutoencoderKL(folder.vae, tb::VaeParts::decoder); });
    const int scale = static_cast<int>(folder.vae.scale_factor());
    const at::Tensor z = at::randn({1, folder.vae.latent_channels, 64, 64});
    out.run = [vae, z, scale]() mutable {
      c10::InferenceMode inference;
      (void)tb::decode_latents(vae, z, nullptr, scale);
      tb::release_cpu_block_cache();
    };
  } else {
    throw std::runtime_error("--task: expected tiny, text, unet, vae or sdxl_unet, got \"" + task + "\"");
  }
  // "threads auto" times a small model's real UNet step (thread_calibration.hpp), also for the
  // tasks that do not run it (a few MB for such a model).
  if (!out.unet && out.workload.round == tb::CalibrationRound::unet_step)
    out.unet = load_component(folder.unet_weights, [&] { return tb::UNet2DConditionModel(folder.unet); });
  return out;
}

std::string threads_json() {
  return "{\"intra_op\":" + std::to_string(at::get_num_threads()) +
         ",\"blas\":" + std::to_string(tb::openblas_threads()) + "}";
}

std::string handle(const std::string& line, Task& task) {
  std::istringstream in(line);
  std::string cmd;
  in >> cmd;
  if (cmd == "run" || cmd == "profile") {
    std::string trace;
    in >> trace;
    std::unique_ptr<torch::autograd::profiler::RecordProfile> profile;
    if (cmd == "profile") profile = std::make_unique<torch::autograd::profiler::RecordProfile>(trace);
    const auto start = std::chrono::steady_clock::now();
    task.run();
    profile.reset();  // writes the trace
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    char text[64];
    std::snprintf(text, sizeof text, "{\"seconds\":%.6f}", s);
    return text;
  }
  if (cmd == "threads") {
    std::string first;
    in >> first;
    if (first == "auto") {
      std::string state_dir;
      in >> state_dir;
      const auto report = tb::choose_threads(task.workload, state_dir, task.unet);
      return threads_json().insert(1, "\"how\":" + nlohmann::json(report.how).dump() + ",");
    }
    int blas = 0;
    in >> blas;
    tb::apply_split({std::stoi(first), blas});
    return threads_json();
  }
  if (cmd == "stats") {
    const auto m = tb::query_memory_stats(at::kCPU);
    return "{\"peak_rss_mb\":" + std::to_string(m.peak_bytes >> 20) +
           ",\"rss_mb\":" + std::to_string(m.rss_bytes >> 20) + "}";
  }
  throw std::runtime_error("unknown command \"" + line +
                           "\" (threads I B | threads auto DIR | run | profile FILE | stats | quit)");
}

}  // namespace

int main(int argc, char** argv) {
  std::string task_name, model;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--no-block-cache") use_block_cache = false;
    if (flag == "--task" && i + 1 < argc) task_name = argv[++i];
    if (flag == "--model" && i + 1 < argc) model = argv[++i];
  }
  if (task_name.empty() || model.empty()) {
    std::fprintf(stderr,
                 "usage: ftdr_bench_compare_worker --task tiny|text|unet|vae|sdxl_unet --model DIR "
                 "[--no-block-cache]\n");
    return 2;
  }
  try {
    if (use_block_cache) tb::install_cpu_block_cache();
    Task task = make_task(task_name, model);
    std::cout << "{\"ready\":true}" << std::endl;
    for (std::string line; std::getline(std::cin, line);) {
      if (line == "quit") break;
      try {
        std::cout << handle(line, task) << std::endl;
      } catch (const std::exception& e) {
        std::cout << "{\"error\":" << nlohmann::json(e.what()).dump() << "}" << std::endl;
      }
    }
    return 0;
  } catch (const std::exception& e) {
    std::cout << "{\"error\":" << nlohmann::json(e.what()).dump() << "}" << std::endl;
    return 1;
  }
}
