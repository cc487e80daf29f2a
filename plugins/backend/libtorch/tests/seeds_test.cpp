// Seeds like diffusers: initial latents and Euler-ancestral noise from CPU generators, identical
// alone or in a batch, and generator state that survives a checkpoint.
#include <gtest/gtest.h>

#include "common/reference.hpp"
#include "ftdr/sdk/error.hpp"
#include "pipeline/seeds.hpp"
#include "sampler_test_util.hpp"

namespace ftdr::test {
namespace {

using torchbe::initial_latents;
using torchbe::NoiseSource;

TEST(Seeds, ImageIsTheSameAloneOrInABatch) {
  const at::Tensor batch = initial_latents(42, 0, 3, 4, 8, 12);
  ASSERT_EQ(batch.sizes(), (at::IntArrayRef{3, 4, 8, 12}));
  EXPECT_TRUE(at::equal(batch[1].unsqueeze(0), initial_latents(42, 1, 1, 4, 8, 12)));
  EXPECT_TRUE(at::equal(batch[2].unsqueeze(0), initial_latents(43, 1, 1, 4, 8, 12)));
  EXPECT_FALSE(at::equal(batch[0], batch[1]));
}

TEST(Seeds, NoiseStateRoundTripContinuesTheSameDraws) {
  NoiseSource a(7, 0, 2);
  a.draw({2, 4, 8, 8});
  const auto saved = a.state();
  const at::Tensor next = a.draw({2, 4, 8, 8});
  NoiseSource b(999, 0, 2);
  b.load_state(saved);
  EXPECT_TRUE(at::equal(b.draw({2, 4, 8, 8}), next));
  EXPECT_THROW(b.load_state({}), sdk::Error);
}

TEST(SeedsParity, LatentsFromTheSeedEqualDiffusers) {
  FTDR_REQUIRE_REFERENCE(root);
  int checked = 0;
  for (const char* name : {"tiny-sd1", "tiny-sd2v"}) {
    const auto m = ModelReference::load(root, name);
    for (auto it = m.ref["runs"].begin(); it != m.ref["runs"].end(); ++it) {
      SCOPED_TRACE(std::string(name) + " " + it.key());
      const auto& r = it.value();
      const int h = r["height"].get<int>() / 2, w = r["width"].get<int>() / 2;
      const at::Tensor ours = initial_latents(r["latent_seed"].get<uint64_t>(), 0, 1, 4, h, w);
      EXPECT_TRUE(at::equal(ours, m.tensor(it.key() + ".latents_init")));
      if (m.has(it.key() + ".step_noise")) {
        const at::Tensor ref = m.tensor(it.key() + ".step_noise");
        NoiseSource noise(r["generator_seed"].get<uint64_t>(), 0, 1);
        for (int64_t i = 0; i < ref.size(0); ++i)
          EXPECT_TRUE(at::equal(noise.draw({1, 4, h, w}), ref[i])) << i;
      }
      ++checked;
    }
  }
  EXPECT_EQ(checked, 34);
}

}  // namespace
}  // namespace ftdr::test
