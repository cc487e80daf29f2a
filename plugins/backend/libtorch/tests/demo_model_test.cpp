// Demo model "ftdr-shapes" (models/ftdr-shapes): the shipped weights load through the backend and
// reproduce the recorded image, and fixed-seed samples show what their captions say. Also checks the
// tools that built it: scenes vs. the image analysis, and the learned tokenizer vs. CLIPTokenizer.
//
// The recorded image is written by:
//   ftdr_eval_demo --model models/ftdr-shapes --record
//   plugins/backend/libtorch/tests/data/ftdr_shapes_seed42.rgb
#include <gtest/gtest.h>

#include <unistd.h>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>

#ifdef FTDR_HAVE_DEMO_TOOLS
#include "bpe_learner.hpp"
#include "demo_generate.hpp"
#include "shape_metrics.hpp"
#include "shapes_data.hpp"
#include "tokenizer/clip_tokenizer.hpp"

namespace fs = std::filesystem;
using namespace ftdr;

namespace {

fs::path demo_model_dir() { return fs::path(FTDR_SOURCE_DIR) / "models" / "ftdr-shapes"; }
fs::path recorded_image() {
  return fs::path(FTDR_SOURCE_DIR) / "plugins" / "backend" / "libtorch" / "tests" / "data" /
         "ftdr_shapes_seed42.rgb";
}

class DemoModel : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (fs::exists(demo_model_dir() / "model_index.json"))
      generator_ = std::make_unique<demo::DemoGenerator>(demo_model_dir().string());
  }
  static void TearDownTestSuite() { generator_.reset(); }
  void SetUp() override {
    if (!generator_) GTEST_SKIP() << "demo model not found at " << demo_model_dir();
  }
  static std::unique_ptr<demo::DemoGenerator> generator_;
};
std::unique_ptr<demo::DemoGenerator> DemoModel::generator_;

TEST_F(DemoModel, ShippedWeightsReproduceTheRecordedImage) {
  std::ifstream in(recorded_image(), std::ios::binary);
  ASSERT_TRUE(in) << "missing " << recorded_image() << " (see the command at the top of this file)";
  const std::vector<std::uint8_t> expected{std::istreambuf_iterator<char>(in), {}};
  const sdk::Image img = generator_->generate(demo::kDemoPrompt, demo::kDemoSeed);
  ASSERT_EQ(img.width, 64);
  ASSERT_EQ(img.height, 64);
  ASSERT_EQ(img.rgb.size(), expected.size());
  // Bit-identical on the machine that recorded it; other CPUs' BLAS kernels may round a last bit
  // differently, which moves a few pixels by a level or two, never more.
  int max_diff = 0;
  double sum_diff = 0;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const int d = std::abs(static_cast<int>(img.rgb[i]) - static_cast<int>(expected[i]));
    max_diff = std::max(max_diff, d);
    sum_diff += d;
  }
  EXPECT_LE(max_diff, 3) << "fnv1a of the new image: " << std::hex << demo::image_hash(img);
  EXPECT_LE(sum_diff / expected.size(), 0.1);
}

TEST_F(DemoModel, DefaultPromptShowsALargeRedCircleOnBlue) {
  const sdk::Image img = generator_->generate(demo::kDemoPrompt, demo::kDemoSeed);
  const auto a = demo::analyse(img.rgb, img.width, img.height);
  EXPECT_EQ(a.colour, demo::colour_index("red"));
  EXPECT_EQ(a.background, demo::colour_index("blue"));
  ASSERT_TRUE(a.shape.has_value());
  EXPECT_EQ(*a.shape, demo::Shape::circle) << "fill ratio " << a.fill_ratio;
}

TEST_F(DemoModel, FixedSeedHeldOutSamplesMatchTheirCaptions) {
  // The first 16 samples of `ftdr_eval_demo` (caption seed 2024, image seeds 1000 + i): combinations
  // never seen in training. The goals (90/90/70%) are for 100+ samples, where the shipped weights
  // score 96.7/100/74.2% (docs/demo-model.md); on 16, allow two colour or background misses and ask
  // for more than half the shapes: a model at the 70% goal passes that in 93% of seed sets, one at
  // chance level (a third) in 5%. These weights get 16, 16 and 10.
  demo::SceneGenerator captions(2024);
  int colour = 0, background = 0, shape = 0;
  const int n = 16;
  for (int i = 0; i < n; ++i) {
    const demo::Sample s = captions.next(demo::Split::held_out);
    const sdk::Image img = generator_->generate(s.caption, 1000 + i);
    const auto m = demo::match(demo::analyse(img.rgb, img.width, img.height), s.spec);
    colour += m.colour, background += m.background, shape += m.shape;
    if (!(m.colour && m.background && m.shape)) std::printf("miss %d: %s\n", i, s.caption.c_str());
  }
  EXPECT_GE(colour, n - 2);
  EXPECT_GE(background, n - 2);
  EXPECT_GE(shape, n / 2 + 1);
}

TEST(DemoTools, ImageAnalysisReadsBackEveryRenderedScene) {
  demo::SceneGenerator gen(7);
  for (int i = 0; i < 300; ++i) {
    const demo::Sample s = gen.next(i % 2 ? demo::Split::train : demo::Split::held_out);
    const auto m = demo::match(demo::analyse(s.rgb, demo::kImageSize, demo::kImageSize), s.spec);
    ASSERT_TRUE(m.colour && m.background && m.shape && m.size && m.position) << s.caption;
  }
}

TEST(DemoTools, ScenesAreDeterministicAndSplitsDisjoint) {
  demo::SceneGenerator a(99), b(99);
  for (int i = 0; i < 50; ++i) {
    const auto sa = a.next(demo::Split::train), sb = b.next(demo::Split::train);
    EXPECT_EQ(sa.caption, sb.caption);
    EXPECT_EQ(sa.rgb, sb.rgb);
    EXPECT_FALSE(demo::is_held_out(sa.spec));
  }
  for (int i = 0; i < 50; ++i) EXPECT_TRUE(demo::is_held_out(a.next(demo::Split::held_out).spec));
}

TEST(DemoTools, CaptionsPutAnBeforeAVowel) {
  demo::SceneSpec spec;
  spec.colour = demo::colour_index("red");
  spec.background = demo::colour_index("orange");
  spec.position = demo::Position::left;
  EXPECT_EQ(demo::caption(spec, 0), "a large red circle on an orange background");
  EXPECT_EQ(demo::caption(spec, 2), "an orange background with a large red circle on the left");
  spec.background = demo::colour_index("blue");
  EXPECT_EQ(demo::caption(spec, 1), "a large red circle on the left on a blue background");
}

TEST(DemoTools, LearnedVocabularyIsReadByTheClipTokenizer) {
  const fs::path dir = fs::temp_directory_path() / ("ftdr_demo_tok_" + std::to_string(::getpid()));
  const auto merges = demo::learn_bpe(demo::caption_corpus(), 400);
  const int vocab = demo::write_clip_tokenizer(dir, merges);
  const auto tok = torchbe::CLIPTokenizer::from_folder(dir);
  EXPECT_EQ(tok.bos_id(), vocab - 2);
  EXPECT_EQ(tok.eos_id(), vocab - 1);
  EXPECT_EQ(tok.pad_id(), vocab - 1);
  // Every caption word was merged into one token: "a large red circle" = 4 tokens.
  const auto ids = tok.tokenize("a large red circle");
  ASSERT_EQ(ids.size(), 4u);
  const auto table = demo::clip_vocab(merges);
  auto id_of = [&](const std::string& token) {
    for (const auto& [t, id] : table)
      if (t == token) return static_cast<int64_t>(id);
    return int64_t{-1};
  };
  EXPECT_EQ(ids[0], id_of("a</w>"));
  EXPECT_EQ(ids[1], id_of("large</w>"));
  EXPECT_EQ(ids[3], id_of("circle</w>"));
  // Byte fallback for words outside the corpus: still encodable, one byte token at most per char.
  EXPECT_FALSE(tok.tokenize("zebra").empty());
  const auto padded = tok.encode("a small blue square");
  EXPECT_EQ(padded.size(), 77u);
  EXPECT_EQ(padded.front(), vocab - 2);
  fs::remove_all(dir);
}

}  // namespace

#else

TEST(DemoModel, ToolsNotBuilt) {
  GTEST_SKIP() << "demo-model tools not built (FTDR_BUILD_TOOLS=OFF): tools/ provides the analysis";
}

#endif
