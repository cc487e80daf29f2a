// tools/demo_generate.cpp
#include "demo_generate.hpp"

#include "adapter/torch_backend.hpp"

namespace ftdr::demo {

namespace {
class NoObserver final : public sdk::StepObserver {
 public:
  void on_step(const sdk::StepEvent&) override {}
};
}  // namespace

DemoGenerator::DemoGenerator(const std::string& model_dir)
    : backend_(std::make_unique<torchbe::TorchBackend>(sdk::PluginContext{})) {
  backend_->load(model_dir);
}

DemoGenerator::~DemoGenerator() = default;

sdk::Image DemoGenerator::generate(const std::string& prompt, std::uint64_t seed, const GenerateOptions& o) {
  sdk::GenerationParams params;
  params.request.prompt = prompt;
  params.request.width = params.request.height = 64;
  params.request.steps = o.steps;
  params.request.cfg_scale = o.guidance;
  params.request.sampler = o.sampler;
  params.request.seed = seed;
  params.request.batch = 1;
  params.width = params.height = 64;
  params.batch = 1;
  params.first_image = 0;
  backend_->validate(params);
  NoObserver observer;
  const auto cond = backend_->encode(params);
  const auto latents = backend_->denoise(params, *cond, nullptr, observer);
  return backend_->decode(params, *latents, nullptr).at(0);
}

std::uint64_t image_hash(const sdk::Image& image) {
  std::uint64_t h = 1469598103934665603ull;
  for (std::uint8_t b : image.rgb) h = (h ^ b) * 1099511628211ull;
  return h;
}

}  // namespace ftdr::demo
