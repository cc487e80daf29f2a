// plugins/backend/libtorch/tests/seam_harness.hpp: decode the same latents tiled (the `overlap` tiling
// strategy's plan) and whole with the libtorch backend, and measure the seams (seam_metrics.hpp). Shared by
// plugins/backend/libtorch/tests/tiled_decode_seams_test.cpp and bench/tiling_seams_bench.cpp.
//
//   auto backend = seams::load_backend("models/ftdr-shapes");
//   at::Tensor z = seams::generated_latents(*backend, 192, 192, 10, 42);   // a real generation
//   SeamReport r = seams::compare(*backend, z, OverlapSettings{});
#pragma once
#include <memory>
#include <string>

#include <ATen/ATen.h>

#include "adapter/torch_backend.hpp"
#include "artifacts/latents_artifact.hpp"
#include "overlap_tiling.hpp"
#include "tests/seam_metrics.hpp"

namespace ftdr::test::seams {

inline std::unique_ptr<torchbe::TorchBackend> load_backend(const std::string& model_dir) {
  auto b = std::make_unique<torchbe::TorchBackend>(sdk::PluginContext{});
  b->load(model_dir);
  return b;
}

inline sdk::GenerationParams params_for(int width, int height, int steps, std::uint64_t seed) {
  sdk::GenerationParams p;
  p.request.prompt = "a large red circle";
  p.request.width = p.width = width;
  p.request.height = p.height = height;
  p.request.steps = steps;
  p.request.seed = seed;
  p.request.cfg_scale = 7.5;
  return p;
}

class NoObserver final : public sdk::StepObserver {
 public:
  void on_step(const sdk::StepEvent&) override {}
};

// Latents of a real generation (encode + denoise) at width x height pixels.
inline at::Tensor generated_latents(torchbe::TorchBackend& b, int width, int height, int steps,
                                    std::uint64_t seed) {
  const sdk::GenerationParams p = params_for(width, height, steps, seed);
  auto cond = b.encode(p);
  NoObserver none;
  auto latents = b.denoise(p, *cond, nullptr, none);
  return dynamic_cast<const torchbe::LatentsArtifact&>(*latents).latents.clone();
}

// Seeded standard-normal latents [1, C, h, w] (the reference VAEs have no trained UNet to make them).
inline at::Tensor random_latents(int channels, int h, int w, std::uint64_t seed) {
  auto gen = at::detail::createCPUGenerator(seed);
  return at::randn({1, channels, h, w}, gen, at::TensorOptions().dtype(at::kFloat));
}

struct Decoded {
  sdk::Image tiled, whole;
  sdk::TilePlan plan;
};

inline Decoded decode_both(torchbe::TorchBackend& b, const at::Tensor& latents,
                           const plugins::OverlapSettings& s) {
  const int scale = b.info().vae_scale_factor;
  torchbe::LatentsArtifact art;
  art.latents = latents;
  sdk::GenerationParams p =
      params_for(static_cast<int>(latents.size(3)) * scale, static_cast<int>(latents.size(2)) * scale, 1, 0);
  plugins::OverlapTiling tiling(s);
  sdk::TileRequest tr;
  tr.latent_height = static_cast<int>(latents.size(2));
  tr.latent_width = static_cast<int>(latents.size(3));
  tr.scale = scale;
  Decoded d;
  d.plan = tiling.plan(tr);
  d.whole = b.decode(p, art, nullptr).at(0);
  p.options.vae_tiling = true;
  d.tiled = b.decode(p, art, &d.plan).at(0);
  return d;
}

inline SeamReport compare(torchbe::TorchBackend& b, const at::Tensor& latents,
                          const plugins::OverlapSettings& s) {
  const Decoded d = decode_both(b, latents, s);
  return measure_seams(d.tiled, d.whole, d.plan);
}

}  // namespace ftdr::test::seams
