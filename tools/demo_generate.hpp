// tools/demo_generate.hpp: text -> 64x64 image with the demo model through the backend itself
// (TorchBackend: encode -> denoise -> decode), i.e. the same code `ftdr generate` runs.
//
//   DemoGenerator gen("models/ftdr-shapes");
//   sdk::Image img = gen.generate("a large red circle on a blue background", /*seed=*/42);
#pragma once
#include <memory>
#include <string>

#include "ftdr/sdk/types.hpp"

namespace ftdr::torchbe {
class TorchBackend;
}

namespace ftdr::demo {

// The settings the demo model is evaluated and shipped with (configs/default.toml uses the same).
inline constexpr int kDemoSteps = 20;
inline constexpr double kDemoGuidance = 7.5;
inline constexpr const char* kDemoPrompt = "a large red circle on a blue background";
inline constexpr std::uint64_t kDemoSeed = 42;

struct GenerateOptions {
  int steps = kDemoSteps;
  double guidance = kDemoGuidance;
  std::string sampler = "default";  // the model's scheduler_config (DDIM, trailing spacing)
};

class DemoGenerator {
 public:
  // Loads the folder on the CPU in float32 with the backend's default configuration.
  explicit DemoGenerator(const std::string& model_dir);
  ~DemoGenerator();
  sdk::Image generate(const std::string& prompt, std::uint64_t seed, const GenerateOptions& o = {});

 private:
  std::unique_ptr<torchbe::TorchBackend> backend_;
};

// 64-bit FNV-1a of an image's RGB bytes (for logs and records).
std::uint64_t image_hash(const sdk::Image& image);

}  // namespace ftdr::demo
