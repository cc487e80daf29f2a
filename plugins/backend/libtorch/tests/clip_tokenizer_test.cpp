// CLIP tokenizer parity (tokenizer/clip_tokenizer.hpp): ids identical to transformers' CLIPTokenizer
// for the 12 reference prompts of both models (padded and unpadded).
#include "tokenizer/clip_tokenizer.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "common/reference.hpp"
#include "ftdr/sdk/error.hpp"
#include "tests/network_parity.hpp"
#include "tokenizer/unicode_classes.hpp"

namespace {

using ftdr::torchbe::CLIPTokenizer;

class ClipTokenizerParity : public ::testing::TestWithParam<std::string> {};

TEST_P(ClipTokenizerParity, MatchesTransformersIds) {
  FTDR_REQUIRE_REFERENCE(ref);
  const auto dir = ref / GetParam();
  const auto tok = CLIPTokenizer::from_folder(dir / "tokenizer");
  const auto spec = ftdr::torchbe::read_json_file(dir / "reference.json").at("tokenizer");
  EXPECT_EQ(tok.pad_id(), spec.at("pad_token_id").get<int64_t>());
  EXPECT_EQ(tok.max_length(), spec.at("model_max_length").get<int>());
  const auto reference = ftdr::torchbe::SafeTensorsFile::open(dir / "reference.safetensors");
  const at::Tensor padded = reference.load("tokenizer.input_ids");
  const auto& prompts = spec.at("prompts");
  ASSERT_EQ(padded.size(0), static_cast<int64_t>(prompts.size()));
  for (size_t i = 0; i < prompts.size(); ++i) {
    const std::string prompt = prompts[i].get<std::string>();
    SCOPED_TRACE("prompt " + std::to_string(i) + ": " + prompt);
    EXPECT_EQ(tok.encode_unpadded(prompt), spec.at("ids_unpadded")[i].get<std::vector<int64_t>>());
    const auto ids = tok.encode(prompt);
    const at::Tensor row = padded[static_cast<int64_t>(i)];
    EXPECT_EQ(ids, std::vector<int64_t>(row.data_ptr<int64_t>(), row.data_ptr<int64_t>() + row.numel()));
  }
}

INSTANTIATE_TEST_SUITE_P(ReferenceModels, ClipTokenizerParity, ::testing::Values("tiny-sd1", "tiny-sd2v"));

TEST(ClipTokenizer, KnownIdsAndSpecialTokens) {
  FTDR_REQUIRE_REFERENCE(ref);
  const auto tok = CLIPTokenizer::from_folder(ref / "tokenizer");
  EXPECT_EQ(tok.encode_unpadded("a photo of a cat"),
            (std::vector<int64_t>{49406, 320, 1125, 539, 320, 2368, 49407}));
  // Special tokens written in the text map to their ids, not to BPE pieces.
  EXPECT_EQ(tok.tokenize("<|endoftext|>"), (std::vector<int64_t>{49407}));
  // Invalid UTF-8 does not throw.
  EXPECT_NO_THROW(tok.encode(std::string("bad \xff\xfe bytes")));
  EXPECT_EQ(tok.encode("").size(), 77u);
}

// SD 2.x names "!" as its pad token: transformers then splits every "!" out as a special token.
TEST(ClipTokenizer, PadTokenInTextIsSplitOutLikeTransformers) {
  FTDR_REQUIRE_REFERENCE(ref);
  const auto sd1 = CLIPTokenizer::from_folder(ref / "tiny-sd1" / "tokenizer");
  const auto sd2 = CLIPTokenizer::from_folder(ref / "tiny-sd2v" / "tokenizer");
  EXPECT_EQ(sd1.tokenize("!!!"), (std::vector<int64_t>{995}));
  EXPECT_EQ(sd2.tokenize("!!!"), (std::vector<int64_t>{0, 0, 0}));
  EXPECT_EQ(sd2.pad_id(), 0);
}

TEST(ClipTokenizer, MissingFolderIsModelError) {
  try {
    CLIPTokenizer::from_folder("/nonexistent/ftdr/tokenizer");
    FAIL();
  } catch (const ftdr::sdk::Error& e) {
    EXPECT_EQ(e.kind(), ftdr::sdk::ErrorKind::model_error);
    EXPECT_NE(std::string(e.what()).find("/nonexistent/ftdr/tokenizer"), std::string::npos);
  }
}

// A copy of the demo model's tokenizer with one file replaced; from_folder must refuse it naming
// the file (and the key).
class BrokenTokenizer : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("ftdr_tokenizer_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::copy(std::filesystem::path(FTDR_SOURCE_DIR) / "models" / "ftdr-shapes" / "tokenizer",
                          dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  void expect_refused(const std::string& file, const std::string& text, const std::string& mention) {
    std::ofstream(dir_ / file, std::ios::trunc) << text;
    try {
      CLIPTokenizer::from_folder(dir_);
      ADD_FAILURE() << file << " accepted: " << text;
    } catch (const ftdr::sdk::Error& e) {
      EXPECT_EQ(e.kind(), ftdr::sdk::ErrorKind::model_error);
      EXPECT_NE(std::string(e.what()).find((dir_ / file).string()), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(mention), std::string::npos) << e.what();
    }
  }
  std::filesystem::path dir_;
};

TEST_F(BrokenTokenizer, EmptyMergesAreRefused) {
  EXPECT_NO_THROW(CLIPTokenizer::from_folder(dir_));
  expect_refused("merges.txt", "", "no merges");
  expect_refused("merges.txt", "#version: 0.2\n\n", "no merges");
}

TEST_F(BrokenTokenizer, NegativeOrHugeIdsAreRefused) {
  expect_refused("vocab.json", R"({"a</w>": -1})", "'a</w>'");
  expect_refused("vocab.json", R"({"a</w>": 99999999999})", "'a</w>'");
}

TEST_F(BrokenTokenizer, ModelMaxLengthMustBeAnIntegerOfAtLeastTwo) {
  expect_refused("tokenizer_config.json", R"({"model_max_length": -1})", "model_max_length");
  expect_refused("tokenizer_config.json", R"({"model_max_length": "77"})", "model_max_length");
}

TEST(UnicodeClasses, LettersNumbersSpacesLowerCase) {
  using namespace ftdr::torchbe::unicode;
  EXPECT_TRUE(is_letter(U'a'));
  EXPECT_TRUE(is_letter(U'\u00e9'));       // é
  EXPECT_TRUE(is_letter(U'\u6771'));       // 東 (CJK)
  EXPECT_TRUE(is_letter(U'\u306e'));       // の (Hiragana)
  EXPECT_TRUE(is_letter(U'\u041c'));       // М (Cyrillic)
  EXPECT_FALSE(is_letter(U'\u00d7'));      // ×
  EXPECT_FALSE(is_letter(U'\U0001F436'));  // 🐶
  EXPECT_TRUE(is_number(U'7'));
  EXPECT_TRUE(is_number(U'\u00bd'));  // ½ (No)
  EXPECT_TRUE(is_number(U'\u2167'));  // Ⅷ (Nl)
  EXPECT_FALSE(is_number(U'x'));
  EXPECT_TRUE(is_space(U'\t'));
  EXPECT_TRUE(is_space(U'\u3000'));
  EXPECT_TRUE(is_space(U'\x1c'));     // Python's str.isspace() counts the file separators
  EXPECT_FALSE(is_space(U'\u200b'));  // zero-width space is not whitespace in Python
  std::u32string out;
  append_lower(U'\u00c9', out);  // É -> é
  append_lower(U'\u041c', out);  // М -> м
  append_lower(U'\u0130', out);  // İ -> i + combining dot
  EXPECT_EQ(out, (std::u32string{U'\u00e9', U'\u043c', U'i', U'\u0307'}));
}

}  // namespace
