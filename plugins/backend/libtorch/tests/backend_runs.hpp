// backend_runs.hpp: a TorchBackend over a model as the host would load it, and one whole run of
// encode, denoise and decode through it (the single-file tests compare those images exactly).
#pragma once
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "adapter/torch_backend.hpp"
#include "backend_test_support.hpp"

namespace ftdr::test {

// A CPU backend with naive attention over `model`, with the host values a [model] table would pass.
inline std::unique_ptr<torchbe::TorchBackend> backend_for(const std::filesystem::path& model,
                                                          std::map<std::string, MapConfig::Value> host) {
  auto cfg = std::make_shared<MapConfig>(std::map<std::string, MapConfig::Value>{
      {"device", std::string("cpu")}, {"attention", std::string("naive")}});
  cfg->add_table(sdk::kHostTable, std::make_shared<MapConfig>(std::move(host)));
  auto backend = std::make_unique<torchbe::TorchBackend>(context_with(cfg));
  backend->load(model.string());
  return backend;
}

inline std::vector<sdk::Image> generate(torchbe::TorchBackend& backend, const sdk::GenerationParams& p) {
  RecordingObserver observer;
  auto cond = backend.encode(p);
  auto latents = backend.denoise(p, *cond, nullptr, observer);
  return backend.decode(p, *latents, nullptr);
}

}  // namespace ftdr::test
