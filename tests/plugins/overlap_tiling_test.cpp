// The `overlap` tiling strategy: coverage, full-size tiles inside the latent, positive feathered
// weights that blend to one, the memory hint (plugins/tiling/overlap).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <vector>

#include "ftdr/sdk/tiling.hpp"
#include "overlap_tiling.hpp"
#include "plugins/plugin_test_support.hpp"
#include "tile_axis.hpp"

namespace {

using namespace ftdr;
using testing::ElementsAre;
using testing::HasSubstr;

sdk::TileRequest request(int h, int w, int scale = 8, std::uint64_t hint = 0) {
  sdk::TileRequest r;
  r.latent_height = h;
  r.latent_width = w;
  r.scale = scale;
  r.memory_hint_bytes = hint;
  return r;
}

// Sum of all tiles' weights at every output pixel.
std::vector<double> weight_sums(const sdk::TilePlan& plan, int h, int w) {
  const int s = plan.scale;
  std::vector<double> sum(static_cast<std::size_t>(h * s) * (w * s), 0.0);
  for (const auto& t : plan.tiles) {
    const int th = t.height * s, tw = t.width * s;
    for (int y = 0; y < th; ++y)
      for (int x = 0; x < tw; ++x)
        sum[static_cast<std::size_t>(t.y * s + y) * (w * s) + (t.x * s + x)] += t.weight[y * tw + x];
  }
  return sum;
}

TEST(OverlapTiling, AxisStartsAreSpreadEvenlyWithFullSizeTiles) {
  EXPECT_THAT(plugins::tile_starts(32, 32, 8), ElementsAre(0));
  EXPECT_THAT(plugins::tile_starts(20, 32, 8), ElementsAre(0));
  EXPECT_THAT(plugins::tile_starts(56, 32, 8), ElementsAre(0, 24));      // exact fit: overlap 8
  EXPECT_THAT(plugins::tile_starts(64, 32, 8), ElementsAre(0, 16, 32));  // slack shared: overlaps 16
  EXPECT_THAT(plugins::tile_starts(96, 32, 8), ElementsAre(0, 21, 43, 64));
  EXPECT_THAT(plugins::tile_starts(33, 32, 0), ElementsAre(0, 1));
  EXPECT_THAT(plugins::tile_starts(64, 32, 0), ElementsAre(0, 32));
}

TEST(OverlapTiling, AnyLatentIsCoveredByFullSizeTilesInsideItWithPositiveWeights) {
  for (int tile : {8, 16, 32}) {
    for (int overlap : {0, 2, tile / 4, tile / 2}) {
      plugins::OverlapTiling strategy({tile, overlap, 8, 2048});
      for (int h : {1, 7, 8, 31, 32, 33, 57, 64, 96, 100, 128}) {
        for (int w : {5, 32, 40, 64, 97}) {
          SCOPED_TRACE(testing::Message()
                       << "tile " << tile << " overlap " << overlap << " latent " << h << "x" << w);
          const int scale = 2;
          auto plan = strategy.plan(request(h, w, scale));
          EXPECT_EQ(plan.tile_size, tile);
          std::vector<int> covered(static_cast<std::size_t>(h) * w, 0);
          for (const auto& t : plan.tiles) {
            ASSERT_GE(t.y, 0);
            ASSERT_GE(t.x, 0);
            ASSERT_LE(t.y + t.height, h);
            ASSERT_LE(t.x + t.width, w);
            EXPECT_EQ(t.height, std::min(tile, h));  // full size, clipped only when the latent is smaller
            EXPECT_EQ(t.width, std::min(tile, w));
            ASSERT_EQ(t.weight.size(), static_cast<std::size_t>(t.height * scale) * (t.width * scale));
            for (float v : t.weight) ASSERT_GT(v, 0.0f);
            for (int y = t.y; y < t.y + t.height; ++y)
              for (int x = t.x; x < t.x + t.width; ++x) covered[static_cast<std::size_t>(y) * w + x]++;
          }
          for (int c : covered) ASSERT_GT(c, 0);
          for (double sum : weight_sums(plan, h, w)) ASSERT_GT(sum, 0.0);
        }
      }
    }
  }
}

TEST(OverlapTiling, SingleTileWhenTheLatentFits) {
  plugins::OverlapTiling strategy({32, 8, 16, 2048});
  for (auto [h, w] : {std::pair{32, 32}, std::pair{20, 32}, std::pair{8, 12}}) {
    auto plan = strategy.plan(request(h, w));
    ASSERT_EQ(plan.tiles.size(), 1u);
    const auto& t = plan.tiles[0];
    EXPECT_EQ(t.y, 0);
    EXPECT_EQ(t.x, 0);
    EXPECT_EQ(t.height, h);
    EXPECT_EQ(t.width, w);
    EXPECT_EQ(t.weight, std::vector<float>(static_cast<std::size_t>(h * 8) * (w * 8), 1.0f));
  }
}

TEST(OverlapTiling, InteriorEdgesRampAndImageBordersKeepWeightOne) {
  plugins::OverlapTiling strategy({32, 8, 16, 2048});
  const int scale = 8;
  auto plan = strategy.plan(request(32, 56, scale));  // one row, two tiles at x = 0 and 24
  ASSERT_EQ(plan.tiles.size(), 2u);
  const auto& left = plan.tiles[0];
  const auto& right = plan.tiles[1];
  EXPECT_EQ(right.x, 24);
  const int tw = 32 * scale, m = 8 * scale;  // overlap: 64 output pixels
  auto at = [&](const sdk::Tile& t, int y, int x) { return t.weight[static_cast<std::size_t>(y) * tw + x]; };
  for (int y : {0, 100, 255}) {
    // Left tile: 1 up to the overlap, then falling to (0.5 / m) at its interior (right) edge.
    EXPECT_FLOAT_EQ(at(left, y, 0), 1.0f);
    EXPECT_FLOAT_EQ(at(left, y, tw - m - 1), 1.0f);
    EXPECT_FLOAT_EQ(at(left, y, tw - m), (m - 0.5f) / m);
    EXPECT_FLOAT_EQ(at(left, y, tw - 1), 0.5f / m);
    // Right tile: rising from its interior (left) edge, 1 at the image border.
    EXPECT_FLOAT_EQ(at(right, y, 0), 0.5f / m);
    EXPECT_FLOAT_EQ(at(right, y, m - 1), (m - 0.5f) / m);
    EXPECT_FLOAT_EQ(at(right, y, m), 1.0f);
    EXPECT_FLOAT_EQ(at(right, y, tw - 1), 1.0f);
    for (int x = 1; x < m; ++x) {
      EXPECT_GT(at(right, y, x), at(right, y, x - 1));
      EXPECT_LT(at(left, y, tw - m + x), at(left, y, tw - m + x - 1));
    }
  }
  // Top and bottom are image borders: no vertical ramp anywhere.
  for (int x = 0; x < tw; ++x) EXPECT_FLOAT_EQ(at(left, 0, x), at(left, 255, x));
}

TEST(OverlapTiling, WeightsBlendToExactlyOneWhereAtMostTwoTilesOverlapPerAxis) {
  plugins::OverlapTiling strategy({32, 8, 16, 2048});
  // 64 -> starts 0, 16, 32 and 56 -> 0, 24: no three tiles overlap along either axis.
  for (auto [h, w] : {std::pair{64, 64}, std::pair{56, 64}, std::pair{32, 56}, std::pair{56, 56}}) {
    auto plan = strategy.plan(request(h, w, 4));
    for (double sum : weight_sums(plan, h, w)) ASSERT_NEAR(sum, 1.0, 1e-5) << h << "x" << w;
  }
}

TEST(OverlapTiling, TwoDimensionalWeightIsTheProductOfTheAxisRamps) {
  plugins::OverlapTiling strategy({16, 4, 8, 2048});
  auto plan = strategy.plan(request(28, 28, 1));  // 2 x 2 tiles at 0 and 12
  ASSERT_EQ(plan.tiles.size(), 4u);
  EXPECT_EQ(plan.tiles[3].y, 12);
  EXPECT_EQ(plan.tiles[3].x, 12);
  const auto ys = plugins::tile_starts(28, 16, 4);
  const auto wy = plugins::axis_weights(ys, 1, 16, 28, 1);
  const auto wx = plugins::axis_weights(ys, 0, 16, 28, 1);
  const auto& t = plan.tiles[2];  // second row, first column
  for (int y = 0; y < 16; ++y)
    for (int x = 0; x < 16; ++x) ASSERT_FLOAT_EQ(t.weight[y * 16 + x], wy[y] * wx[x]);
  EXPECT_FLOAT_EQ(t.weight[0], 0.5f / 4 * 1.0f);  // top edge interior (ramp), left edge border (1)
}

TEST(OverlapTiling, MemoryHintShrinksTheTileUntilItsEstimateFits) {
  plugins::OverlapSettings s{32, 8, 8, 2048};
  plugins::OverlapTiling strategy(s);
  // decode_estimate(h, w) = 2048 * (8h)(8w) + 4 (hw)^2
  EXPECT_EQ(plugins::decode_estimate_bytes(s, 32, 32, 8), 2048ull * 256 * 256 + 4ull * 1024 * 1024);
  const auto e32 = plugins::decode_estimate_bytes(s, 32, 32, 8);
  const auto e24 = plugins::decode_estimate_bytes(s, 24, 24, 8);
  const auto e16 = plugins::decode_estimate_bytes(s, 16, 16, 8);
  EXPECT_EQ(strategy.tile_size_for(request(64, 64, 8, e32)), 32);
  EXPECT_EQ(strategy.tile_size_for(request(64, 64, 8, e32 - 1)), 24);
  EXPECT_EQ(strategy.tile_size_for(request(64, 64, 8, e24 - 1)), 16);
  EXPECT_EQ(strategy.tile_size_for(request(64, 64, 8, e16 - 1)), 8);
  EXPECT_EQ(strategy.tile_size_for(request(64, 64, 8, 1)), 8);   // nothing fits: the smallest allowed
  EXPECT_EQ(strategy.tile_size_for(request(64, 64, 8, 0)), 32);  // no hint: configured size

  auto plan = strategy.plan(request(64, 64, 8, e24));
  EXPECT_EQ(plan.tile_size, 24);
  EXPECT_EQ(plan.overlap, 6);  // 8 * 24 / 32
  for (const auto& t : plan.tiles) {
    EXPECT_EQ(t.height, 24);
    EXPECT_LE(plugins::decode_estimate_bytes(s, t.height, t.width, 8), e24);
  }
  // A latent smaller than the tile is judged by its own size.
  EXPECT_EQ(strategy.tile_size_for(request(16, 16, 8, e16)), 32);
}

TEST(OverlapTiling, BadRequestsAndConfigValuesAreRejected) {
  plugins::OverlapTiling strategy({});
  try {
    strategy.plan(request(0, 64));
    FAIL() << "expected an error";
  } catch (const sdk::Error& e) {
    EXPECT_EQ(e.kind(), sdk::ErrorKind::invalid_request);
    EXPECT_THAT(e.what(), HasSubstr("latent_height: expected >= 1, got 0"));
  }
  EXPECT_THROW(strategy.plan(request(64, 64, 0)), sdk::Error);

  auto rejected = [](std::map<std::string, test::FakeConfig::Value> values, const std::string& what) {
    test::FakeConfig cfg(std::move(values));
    try {
      plugins::read_overlap_settings(&cfg);
      ADD_FAILURE() << "expected a rejection: " << what;
    } catch (const sdk::Error& e) {
      EXPECT_THAT(e.what(), HasSubstr(what));
    }
  };
  rejected({{"tile_size", std::int64_t{4}}}, "key 'tile_size': expected latent pixels >= 8");
  rejected({{"overlap", std::int64_t{17}}},
           "key 'overlap': expected latent pixels from 0 to tile_size / 2 (16)");
  rejected({{"tile_size", std::int64_t{64}}, {"min_tile_size", std::int64_t{65}}},
           "key 'min_tile_size': expected latent pixels from 8 to tile_size (64)");
  rejected({{"bytes_per_pixel", std::int64_t{0}}}, "key 'bytes_per_pixel'");

  test::FakeConfig cfg({{"tile_size", std::int64_t{64}},
                        {"overlap", std::int64_t{16}},
                        {"min_tile_size", std::int64_t{24}},
                        {"bytes_per_pixel", std::int64_t{1024}}});
  auto s = plugins::read_overlap_settings(&cfg);
  EXPECT_EQ(s.tile_size, 64);
  EXPECT_EQ(s.overlap, 16);
  EXPECT_EQ(s.min_tile_size, 24);
  EXPECT_EQ(s.bytes_per_pixel, 1024u);
  auto keys = cfg.keys();
  EXPECT_EQ(cfg.read_keys(), std::set<std::string>(keys.begin(), keys.end()));
}

TEST(OverlapTiling, SharedLibraryDescribesItselfAndPlans) {
  auto cfg = std::make_shared<test::FakeConfig>(std::map<std::string, test::FakeConfig::Value>{
      {"tile_size", std::int64_t{32}}, {"overlap", std::int64_t{8}}});
  auto loaded = test::load_plugin("overlap", cfg);
  EXPECT_EQ(loaded->descriptor->abi_major, sdk::kAbiMajor);
  EXPECT_EQ(loaded->descriptor->kind, sdk::PluginKind::tiling);
  EXPECT_STREQ(loaded->descriptor->name, "overlap");
  auto* strategy = dynamic_cast<sdk::TilingStrategy*>(loaded->object.get());
  ASSERT_NE(strategy, nullptr);
  auto plan = strategy->plan(request(64, 96));  // a 512 x 768 image
  EXPECT_EQ(plan.tiles.size(), 12u);            // 3 rows (0, 16, 32) x 4 columns (0, 21, 43, 64)
  EXPECT_EQ(plan.scale, 8);
  EXPECT_EQ(plan.tiles.back().y, 32);
  EXPECT_EQ(plan.tiles.back().x, 64);
}

}  // namespace
