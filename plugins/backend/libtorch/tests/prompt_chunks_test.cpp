// A1111's prompt chunks (tokenizer/prompt_chunks.hpp) with the demo model's tokenizer (shipped in
// models/ftdr-shapes): 77 ids per chunk, weights per token, comma backtrack, BREAK, long prompts,
// and SD 2.x padding after the first eos.
#include "tokenizer/prompt_chunks.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace ftdr::torchbe {
namespace {

namespace fs = std::filesystem;

const CLIPTokenizer& shapes_tokenizer() {
  static const CLIPTokenizer tok =
      CLIPTokenizer::from_folder(FTDR_SOURCE_DIR "/models/ftdr-shapes/tokenizer");
  return tok;
}

std::vector<PromptChunk> chunks_of(const std::string& text, int backtrack = 20) {
  return chunk_prompt(shapes_tokenizer(), parse_prompt_attention(text, "prompt"), backtrack);
}

std::string repeat(const std::string& s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

int64_t id_of(const std::string& word) { return shapes_tokenizer().token_id(word + "</w>"); }

// How many ids of the chunk (after bos) are `id`, up to the first eos.
int count_before_eos(const PromptChunk& c, int64_t id) {
  int n = 0;
  for (std::size_t i = 1; i < c.tokens.size() && c.tokens[i] != shapes_tokenizer().eos_id(); ++i)
    n += c.tokens[i] == id;
  return n;
}

TEST(PromptChunks, ShortPromptIsTheTokenizersOwnIds) {
  const std::string text = "a red circle, a blue square";
  const auto chunks = chunks_of(text);
  ASSERT_EQ(chunks.size(), 1u);
  EXPECT_EQ(chunks[0].tokens, shapes_tokenizer().encode(text));
  EXPECT_EQ(chunks[0].multipliers, std::vector<double>(77, 1.0));
}

TEST(PromptChunks, EachTokenCarriesItsRunsWeight) {
  const auto chunks = chunks_of("a (red:1.5) circle [blue]");
  ASSERT_EQ(chunks.size(), 1u);
  const PromptChunk& c = chunks[0];
  const int64_t bos = shapes_tokenizer().bos_id(), eos = shapes_tokenizer().eos_id();
  EXPECT_EQ(std::vector<int64_t>(c.tokens.begin(), c.tokens.begin() + 6),
            (std::vector<int64_t>{bos, id_of("a"), id_of("red"), id_of("circle"), id_of("blue"), eos}));
  EXPECT_EQ(std::vector<double>(c.multipliers.begin(), c.multipliers.begin() + 6),
            (std::vector<double>{1.0, 1.0, 1.5, 1.0, 1 / 1.1, 1.0}));
  EXPECT_EQ(c.tokens.back(), eos);
}

TEST(PromptChunks, SeventyFiveTokensFitOneChunkTheSeventySixthStartsAnother) {
  EXPECT_EQ(chunks_of(repeat("red ", 75)).size(), 1u);
  const auto two = chunks_of(repeat("red ", 76));
  ASSERT_EQ(two.size(), 2u);
  EXPECT_EQ(count_before_eos(two[0], id_of("red")), 75);
  EXPECT_EQ(two[0].tokens[76], shapes_tokenizer().eos_id());
  EXPECT_EQ(count_before_eos(two[1], id_of("red")), 1);
}

TEST(PromptChunks, WordsAfterARecentCommaMoveToTheNextChunk) {
  // 60 "green", a comma at token 60, 20 "red": at token 75 the comma is 15 back.
  const std::string text = repeat("green ", 60) + ", " + repeat("red ", 20);
  const int64_t green = id_of("green"), red = id_of("red"), comma = id_of(",");
  const auto moved = chunks_of(text, 20);
  ASSERT_EQ(moved.size(), 2u);
  EXPECT_EQ(count_before_eos(moved[0], green), 60);
  EXPECT_EQ(moved[0].tokens[61], comma);
  EXPECT_EQ(count_before_eos(moved[0], red), 0) << "the 14 reds that fitted moved on";
  EXPECT_EQ(count_before_eos(moved[1], red), 20);
  for (int backtrack : {0, 14}) {
    const auto cut = chunks_of(text, backtrack);
    ASSERT_EQ(cut.size(), 2u) << backtrack;
    EXPECT_EQ(count_before_eos(cut[0], red), 14) << "comma 15 back, backtrack " << backtrack;
    EXPECT_EQ(count_before_eos(cut[1], red), 6) << backtrack;
  }
  // A comma that does not fit is never moved back: it starts the next chunk.
  const auto comma_first = chunks_of(repeat("green ", 75) + ", red");
  ASSERT_EQ(comma_first.size(), 2u);
  EXPECT_EQ(comma_first[1].tokens[1], comma);
}

TEST(PromptChunks, BreakClosesTheChunk) {
  const auto two = chunks_of("red BREAK blue");
  ASSERT_EQ(two.size(), 2u);
  EXPECT_EQ(two[0].tokens[1], id_of("red"));
  EXPECT_EQ(two[1].tokens[1], id_of("blue"));
  const auto leading = chunks_of("BREAK blue");
  ASSERT_EQ(leading.size(), 2u) << "an empty chunk first, as A1111 makes it";
  EXPECT_EQ(leading[0].tokens, shapes_tokenizer().encode(""));
  EXPECT_EQ(chunks_of("red BREAK").size(), 1u);
  EXPECT_EQ(chunks_of("(red BREAK blue)").size(), 1u) << "inside brackets BREAK is a word";
}

TEST(PromptChunks, EmptyPromptIsOneEmptyChunk) {
  const auto chunks = chunks_of("");
  ASSERT_EQ(chunks.size(), 1u);
  EXPECT_EQ(chunks[0].tokens, shapes_tokenizer().encode(""));
  EXPECT_EQ(chunks[0].multipliers, std::vector<double>(77, 1.0));
}

TEST(PromptChunks, TenThousandTokenPrompts) {
  const auto plain = chunks_of(repeat("red ", 10000));
  ASSERT_EQ(plain.size(), 134u) << "ceil(10000 / 75)";
  EXPECT_EQ(count_before_eos(plain.back(), id_of("red")), 10000 - 133 * 75);
  // Groups of six words and a comma: at every chunk's end the comma is 6 tokens back, so the
  // five words after it move on and each chunk holds 10 groups (70 tokens).
  const auto tags = chunks_of(repeat("red blue green red blue green, ", 1429));
  ASSERT_EQ(tags.size(), 143u) << "10,003 tokens, 70 per chunk";
  for (std::size_t i = 0; i + 1 < tags.size(); ++i) {
    EXPECT_EQ(tags[i].tokens[70], id_of(",")) << i;
    EXPECT_EQ(tags[i].tokens[71], shapes_tokenizer().eos_id()) << i;
    EXPECT_EQ(tags[i + 1].tokens[1], id_of("red")) << i;
  }
  EXPECT_EQ(count_before_eos(tags.back(), id_of(",")), 9);
  for (const auto& c : tags) ASSERT_EQ(c.tokens.size(), 77u);
}

TEST(PromptChunks, Sd2TokenizersPadAfterTheFirstEos) {
  // The demo tokenizer with SD 2.x's pad token "!" (id 0).
  const fs::path dir = fs::temp_directory_path() / "ftdr_prompt_chunks_sd2_tokenizer";
  fs::create_directories(dir);
  for (const char* f : {"vocab.json", "merges.txt"})
    fs::copy_file(fs::path(FTDR_SOURCE_DIR "/models/ftdr-shapes/tokenizer") / f, dir / f,
                  fs::copy_options::overwrite_existing);
  std::ofstream(dir / "special_tokens_map.json") << R"({"pad_token": "!"})";
  const CLIPTokenizer sd2 = CLIPTokenizer::from_folder(dir);
  ASSERT_EQ(sd2.pad_id(), 0);
  const auto chunks = chunk_prompt(sd2, parse_prompt_attention("red circle", "prompt"), 20);
  ASSERT_EQ(chunks.size(), 1u);
  const std::vector<int64_t> ids = encoder_ids(chunks[0], sd2);
  EXPECT_EQ(ids, sd2.encode("red circle")) << "diffusers' ids: bos, tokens, eos, then pad";
  EXPECT_EQ(chunks[0].tokens[4], sd2.eos_id()) << "the chunk itself keeps A1111's eos padding";
  EXPECT_EQ(encoder_ids(chunks[0], shapes_tokenizer()), chunks[0].tokens) << "SD 1.x: pad is eos";
  fs::remove_all(dir);
}

}  // namespace
}  // namespace ftdr::torchbe
