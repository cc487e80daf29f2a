// plugins/libtorch/plugin.cpp: the libtorch backend's entry point — descriptor and factory only.
// The backend itself is backend/torch_backend.h.
#include <memory>

#include "backend/torch_backend.h"
#include "ftdr/sdk/plugin.hpp"

namespace {

const ftdr::sdk::PluginDescriptor& describe() {
  static const ftdr::sdk::PluginDescriptor descriptor{
      FTDR_SDK_ABI_MAJOR, FTDR_SDK_ABI_MINOR, ftdr::sdk::PluginKind::backend, "libtorch", "0.1.0",
      "Stable Diffusion 1.x/2.x (diffusers folders) on libtorch: CPU or CUDA, f32/f16/bf16"};
  return descriptor;
}

std::unique_ptr<ftdr::sdk::Plugin> create(const ftdr::sdk::PluginContext& ctx) {
  return std::make_unique<ftdr::torchbe::TorchBackend>(ctx);
}

}  // namespace

FTDR_PLUGIN_EXPORT(describe, create)
