// ftdr_bench_tiling_seams: how visible the seams of a tiled VAE decode are (the `overlap` plan
// against the whole decode; plugins/backend/libtorch/tests/seam_metrics.hpp says what each column means), for
// the demo model (latents of a real generation) and the reference VAEs (seeded randn latents), with the
// default plan (tile 32, overlap 8) and smaller tiles / narrower overlaps. Goals: mean |diff| <= 2 (of 255),
// seam/interior gradient <= 1.5.
//
//   ftdr_bench_tiling_seams [--reference DIR] [--latent N]
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "tests/seam_harness.hpp"

namespace fs = std::filesystem;
using namespace ftdr::test;

namespace {

struct Model {
  std::string name;
  std::string dir;
  bool generated;  // latents from a real generation (else randn)
};

void print_row(const std::string& model, int latent, const ftdr::plugins::OverlapSettings& s,
               std::size_t tiles, const SeamReport& r) {
  std::printf("%-12s %4dx%-4d %4d %7d %5zu %9.3f %8.0f %9.2f %9.2f %7.3f %7.3f %s\n", model.c_str(), latent,
              latent, s.tile_size, s.overlap, tiles, r.mean_abs_diff, r.max_abs_diff, r.seam_gradient,
              r.interior_gradient, r.gradient_ratio, r.whole_gradient_ratio,
              r.mean_abs_diff <= 2.0 && r.gradient_ratio <= 1.5 ? "ok" : "MISSES GOAL");
}

}  // namespace

int main(int argc, char** argv) {
  fs::path reference =
      std::getenv("FTDR_REFERENCE_DIR") ? std::getenv("FTDR_REFERENCE_DIR") : FTDR_DEFAULT_REFERENCE_DIR;
  int latent = 48;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--reference"))
      reference = argv[i + 1];
    else if (!std::strcmp(argv[i], "--latent"))
      latent = std::atoi(argv[i + 1]);
  }
  std::vector<Model> models{{"ftdr-shapes", std::string(FTDR_SOURCE_DIR) + "/models/ftdr-shapes", true}};
  for (const char* name : {"tiny-sd1", "tiny-sd2v"}) {
    if (fs::exists(reference / name / "model_index.json"))
      models.push_back({name, (reference / name).string(), false});
    else
      std::printf("(skipping %s: not found under %s)\n", name, reference.c_str());
  }
  std::printf("%-12s %9s %4s %7s %5s %9s %8s %9s %9s %7s %7s\n", "model", "latent", "tile", "overlap",
              "tiles", "mean|d|", "max|d|", "grad@seam", "grad@rest", "ratio", "whole");
  for (const Model& m : models) {
    auto backend = seams::load_backend(m.dir);
    const int scale = backend->info().vae_scale_factor;
    const at::Tensor z = m.generated
                             ? seams::generated_latents(*backend, latent * scale, latent * scale, 10, 42)
                             : seams::random_latents(backend->info().latent_channels, latent, latent, 7);
    // The default plan, then smaller tiles with narrower overlaps (more seams, less context each).
    for (const auto& [tile, overlap] :
         std::vector<std::pair<int, int>>{{32, 8}, {24, 8}, {24, 4}, {16, 4}, {16, 2}}) {
      ftdr::plugins::OverlapSettings s;
      s.tile_size = tile;
      s.overlap = overlap;
      s.min_tile_size = std::min(s.min_tile_size, tile);
      const auto d = seams::decode_both(*backend, z, s);
      print_row(m.name, latent, s, d.plan.tiles.size(), measure_seams(d.tiled, d.whole, d.plan));
    }
  }
  return 0;
}
