// PNG output: pixels and both text chunks round-trip, bytes are deterministic, A1111 format exact.
#include <fstream>
#include <iterator>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "ftdr/framework/png_writer.hpp"
#include "ftdr/framework/request_json.hpp"
#include "ftdr/framework/version.hpp"
#include "ftdr/sdk/error.hpp"

namespace ftdr::framework {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

class PngWriter : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("ftdr_png_test_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  static sdk::Image gradient(int w, int h) {
    sdk::Image img{w, h, {}};
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x)
        for (int c = 0; c < 3; ++c) img.rgb.push_back(static_cast<std::uint8_t>((x * 7 + y * 13 + c * 50) & 0xff));
    return img;
  }
  static std::string bytes(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
  }
  fs::path dir_;
};

sdk::GenerationParams sample_params() {
  sdk::GenerationParams p;
  p.request.prompt = "a red circle";
  p.request.negative_prompt = "blurry";
  p.request.steps = 20;
  p.request.sampler = "euler_a";
  p.request.cfg_scale = 7.5;
  p.request.seed = 42;
  p.width = 512;
  p.height = 384;
  return p;
}

TEST_F(PngWriter, PixelsAndTextChunksRoundTrip) {
  auto img = gradient(24, 16);
  fs::path file = dir_ / "sub" / "a.png";
  write_png(file, img, {{"parameters", "hello\nSteps: 1"}, {"ftdr_request", "{\"x\":1}"}});
  PngContents back = read_png(file);
  EXPECT_EQ(back.image.width, 24);
  EXPECT_EQ(back.image.height, 16);
  EXPECT_EQ(back.image.rgb, img.rgb);
  ASSERT_EQ(back.text.size(), 2u);
  EXPECT_EQ(back.text[0], (std::pair<std::string, std::string>{"parameters", "hello\nSteps: 1"}));
  EXPECT_EQ(back.text[1], (std::pair<std::string, std::string>{"ftdr_request", "{\"x\":1}"}));
  EXPECT_FALSE(fs::exists(file.string() + ".tmp"));
}

TEST_F(PngWriter, SameInputGivesIdenticalBytes) {
  auto img = gradient(32, 32);
  TextChunks text{{"parameters", "p"}};
  write_png(dir_ / "1.png", img, text);
  write_png(dir_ / "2.png", img, text);
  EXPECT_EQ(bytes(dir_ / "1.png"), bytes(dir_ / "2.png"));
  EXPECT_EQ(bytes(dir_ / "1.png").substr(1, 3), "PNG");
  EXPECT_EQ(bytes(dir_ / "1.png").find("tIME"), std::string::npos);
}

TEST_F(PngWriter, Utf8TextRoundTripsThroughITXt) {
  const std::string prompt = "un chat bleu \xc3\xa9t\xc3\xa9 \xe7\x8c\xab";
  write_png(dir_ / "u.png", gradient(8, 8), {{"parameters", prompt}});
  EXPECT_NE(bytes(dir_ / "u.png").find("iTXt"), std::string::npos);
  EXPECT_EQ(read_png(dir_ / "u.png").text.at(0).second, prompt);
}

TEST_F(PngWriter, ImageOfTheWrongSizeIsRefused) {
  sdk::Image bad{4, 4, std::vector<std::uint8_t>(10)};
  try {
    write_png(dir_ / "bad.png", bad, {});
    FAIL();
  } catch (const sdk::Error& e) {
    EXPECT_EQ(e.kind(), sdk::ErrorKind::invalid_request);
    EXPECT_THAT(e.what(), HasSubstr("bad.png: image is 4x4 with 10 bytes; expected width*height*3"));
  }
}

TEST_F(PngWriter, ReadingANonPngNamesTheFile) {
  std::ofstream(dir_ / "x.png") << "not a png";
  try {
    read_png(dir_ / "x.png");
    FAIL();
  } catch (const sdk::Error& e) {
    EXPECT_THAT(e.what(), HasSubstr((dir_ / "x.png").string() + ": not a readable PNG"));
  }
  EXPECT_THROW(read_png(dir_ / "missing.png"), sdk::Error);
}

TEST(A1111Parameters, ExactFormat) {
  EXPECT_EQ(a1111_parameters(sample_params(), "ftdr-shapes", 0),
            "a red circle\nNegative prompt: blurry\nSteps: 20, Sampler: Euler a, CFG scale: 7.5, Seed: 42, "
            "Size: 512x384, Model: ftdr-shapes, Version: ftdr " + std::string(ftdr_version()));
}

TEST(A1111Parameters, NoNegativeLineBatchPositionAndSeedPerImage) {
  auto p = sample_params();
  p.request.negative_prompt = "";
  p.request.batch = 4;
  p.request.cfg_scale = 7;
  p.request.sampler = "dpmpp_2m_karras";
  EXPECT_EQ(a1111_parameters(p, "m", 2),
            "a red circle\nSteps: 20, Sampler: DPM++ 2M Karras, CFG scale: 7, Seed: 44, Size: 512x384, Model: m, "
            "Batch size: 4, Batch pos: 2, Version: ftdr " + std::string(ftdr_version()));
}

TEST(A1111Parameters, SamplerNames) {
  EXPECT_EQ(a1111_sampler_name("euler"), "Euler");
  EXPECT_EQ(a1111_sampler_name("ddim"), "DDIM");
  EXPECT_EQ(a1111_sampler_name("lms"), "LMS");
  EXPECT_EQ(a1111_sampler_name("something"), "something");
}

TEST(RequestJson, RoundTripsEveryField) {
  auto r = sample_params().request;
  r.batch = 3;
  r.eta = 0.5;
  r.clip_skip = 2;
  r.output_prefix = "pre";
  nlohmann::json j = request_json(r);
  EXPECT_EQ(j.at("prompt"), "a red circle");
  EXPECT_EQ(j.at("seed"), 42);
  auto back = request_from_json(j);
  EXPECT_EQ(request_json(back), j);
}

TEST(RequestJson, WrongTypeAndUnknownFieldAreNamed) {
  try {
    request_from_json(nlohmann::json{{"steps", "many"}});
    FAIL();
  } catch (const sdk::Error& e) {
    EXPECT_EQ(std::string(e.what()), "request field 'steps': expected an integer (got string)");
  }
  try {
    request_from_json(nlohmann::json{{"stepz", 3}});
    FAIL();
  } catch (const sdk::Error& e) {
    EXPECT_EQ(std::string(e.what()), "request: unknown field 'stepz'");
  }
}

}  // namespace
}  // namespace ftdr::framework
