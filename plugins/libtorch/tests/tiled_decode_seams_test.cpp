// Tiled VAE decode (the `overlap` plan, default settings) against the whole decode: the seams must
// not show. Goals: mean |tiled - whole| <= 2 (of 255), and the gradient across tile borders at most
// 1.5x the gradient elsewhere (seam_metrics.hpp). On the demo model (latents of a real generation)
// and the reference VAEs (seeded randn latents; skipped when the reference folder is absent).
#include <gtest/gtest.h>

#include "tests/seam_harness.hpp"
#include "common/reference.hpp"

using namespace ftdr::test;

namespace {

constexpr double kMaxMeanDiff = 2.0;
constexpr double kMaxGradientRatio = 1.5;

void expect_goals(const SeamReport& r, const std::string& what) {
  EXPECT_GE(r.seam_columns + r.seam_rows, 2) << what << ": the plan has inner tile borders";
  EXPECT_LE(r.mean_abs_diff, kMaxMeanDiff) << what << ": max diff " << r.max_abs_diff;
  EXPECT_LE(r.gradient_ratio, kMaxGradientRatio)
      << what << ": seam " << r.seam_gradient << " vs interior " << r.interior_gradient << " (whole image: "
      << r.whole_gradient_ratio << ")";
}

void reference_vae(const std::string& name) {
  auto dir = reference_dir();
  if (!dir) GTEST_SKIP() << "reference folder absent (FTDR_REFERENCE_DIR or " << FTDR_DEFAULT_REFERENCE_DIR << ")";
  auto backend = seams::load_backend((*dir / name).string());
  const SeamReport r = seams::compare(*backend, seams::random_latents(4, 48, 48, 7), ftdr::plugins::OverlapSettings{});
  expect_goals(r, name);
}

}  // namespace

TEST(TiledDecodeSeams, DemoModelRealGeneration) {
  auto backend = seams::load_backend(std::string(FTDR_SOURCE_DIR) + "/models/ftdr-shapes");
  const at::Tensor z = seams::generated_latents(*backend, 192, 192, 10, 42);  // 48 x 48 latents: 2 x 2 tiles
  expect_goals(seams::compare(*backend, z, ftdr::plugins::OverlapSettings{}), "ftdr-shapes");
}

TEST(TiledDecodeSeams, ReferenceTinySd1) { reference_vae("tiny-sd1"); }
TEST(TiledDecodeSeams, ReferenceTinySd2v) { reference_vae("tiny-sd2v"); }
