// plugins/backend/libtorch/plugin.cpp: the libtorch backend's declaration. The backend itself is
// adapter/torch_backend.hpp.
#include <memory>

#include "adapter/torch_backend.hpp"
#include "ftdr/sdk/plugin.hpp"

namespace {

std::unique_ptr<ftdr::sdk::ModelBackend> make(const ftdr::sdk::PluginContext& ctx) {
  return std::make_unique<ftdr::torchbe::TorchBackend>(ctx);
}

}  // namespace

FTDR_DECLARE_PLUGIN(backend, "libtorch", "0.1.0",
                    "Stable Diffusion 1.x/2.x (diffusers folders) on libtorch: CPU or CUDA, f32/f16/bf16",
                    make)
