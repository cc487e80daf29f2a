// PNG output: pixels and both text chunks round-trip, bytes are deterministic, A1111 format exact.
#include <fstream>
#include <iterator>
#include <regex>
#include <set>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "ftdr/framework/jobs/request_json.hpp"
#include "ftdr/framework/output/png_writer.hpp"
#include "ftdr/framework/version.hpp"
#include "ftdr/sdk/error.hpp"

#include <map>
#include <sstream>

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
        for (int c = 0; c < 3; ++c)
          img.rgb.push_back(static_cast<std::uint8_t>((x * 7 + y * 13 + c * 50) & 0xff));
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
  EXPECT_EQ(std::distance(fs::directory_iterator(file.parent_path()), fs::directory_iterator()), 1)
      << "no temporary file left";
}

// Issue 15: the same name twice gave one file (the second replaced the first) and concurrent
// writers shared "<name>.tmp". write_new_png takes the next free name and never replaces.
std::string numbered(int n) { return n == 0 ? "a.png" : "a-" + std::to_string(n) + ".png"; }

TEST_F(PngWriter, NewPngNeverReplacesAFile) {
  const auto first = gradient(8, 8), second = gradient(16, 8);
  EXPECT_EQ(write_new_png(dir_, numbered, first, {{"parameters", "1"}}), dir_ / "a.png");
  const std::string before = bytes(dir_ / "a.png");
  EXPECT_EQ(write_new_png(dir_, numbered, second, {{"parameters", "2"}}), dir_ / "a-1.png");
  EXPECT_EQ(bytes(dir_ / "a.png"), before);
  EXPECT_EQ(read_png(dir_ / "a-1.png").image.rgb, second.rgb);
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 2)
      << "no temporary file left";
}

TEST_F(PngWriter, ConcurrentWritersOfOneNameEachKeepTheirImage) {
  constexpr int kWriters = 8;
  std::vector<std::thread> threads;
  for (int i = 0; i < kWriters; ++i)
    threads.emplace_back([this, i] { write_new_png(dir_, numbered, gradient(8 + 8 * i, 8), {}); });
  for (auto& t : threads) t.join();
  std::set<int> widths;
  for (const auto& entry : fs::directory_iterator(dir_)) widths.insert(read_png(entry.path()).image.width);
  EXPECT_EQ(widths.size(), static_cast<std::size_t>(kWriters))
      << "every image in a file of its own, no temp files";
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
            "Size: 512x384, Model: ftdr-shapes, Version: ftdr " +
                std::string(ftdr_version()));
}

TEST(A1111Parameters, NoNegativeLineBatchPositionAndSeedPerImage) {
  auto p = sample_params();
  p.request.negative_prompt = "";
  p.request.batch = 4;
  p.request.cfg_scale = 7;
  p.request.sampler = "dpmpp_2m_karras";
  EXPECT_EQ(
      a1111_parameters(p, "m", 2),
      "a red circle\nSteps: 20, Sampler: DPM++ 2M Karras, CFG scale: 7, Seed: 44, Size: 512x384, Model: m, "
      "Batch size: 4, Batch pos: 2, Version: ftdr " +
          std::string(ftdr_version()));
}

TEST(A1111Parameters, SamplerNames) {
  EXPECT_EQ(a1111_sampler_name("euler"), "Euler");
  EXPECT_EQ(a1111_sampler_name("ddim"), "DDIM");
  EXPECT_EQ(a1111_sampler_name("lms"), "LMS");
  EXPECT_EQ(a1111_sampler_name("something"), "something");
}

// A port of what AUTOMATIC1111's reader does with `parameters` (modules/infotext_utils.py,
// parse_generation_parameters, and unquote()): the prompt, the negative prompt and the settings.
struct A1111Read {
  std::string prompt, negative;
  std::map<std::string, std::string> settings;
};
std::string py_strip(const std::string& s) {
  const char* ws = " \t\r\n\v\f";
  const auto a = s.find_first_not_of(ws);
  return a == std::string::npos ? "" : s.substr(a, s.find_last_not_of(ws) - a + 1);
}
A1111Read a1111_read(const std::string& text) {
  static const std::regex re_param(R"re(\s*(\w[\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$))re");
  std::vector<std::string> lines;
  std::stringstream in(py_strip(text));
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  std::string last = lines.back();
  lines.pop_back();
  const auto count =
      std::distance(std::sregex_iterator(last.begin(), last.end(), re_param), std::sregex_iterator());
  if (count < 3) lines.push_back(last), last.clear();
  A1111Read out;
  bool negative = false;
  for (std::string line : lines) {
    line = py_strip(line);
    if (line.rfind("Negative prompt:", 0) == 0) negative = true, line = py_strip(line.substr(16));
    std::string& to = negative ? out.negative : out.prompt;
    to += (to.empty() ? "" : "\n") + line;
  }
  for (std::sregex_iterator it(last.begin(), last.end(), re_param), end; it != end; ++it) {
    std::string v = (*it)[2];
    if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = nlohmann::json::parse(v).get<std::string>();
    out.settings[(*it)[1]] = v;
  }
  return out;
}
// The reader trims every line (documented: the tokenizer ignores that whitespace too).
std::string lines_stripped(const std::string& text) {
  std::string out;
  std::stringstream in(text);
  for (std::string line; std::getline(in, line);) out += (out.empty() ? "" : "\n") + py_strip(line);
  return py_strip(out);
}
// The documented way back from an escaped line: drop one "\" before "\...Negative prompt:".
std::string unescape(const std::string& text) {
  static const std::regex escaped(R"re((^|\n)\\(\\*Negative prompt:))re");
  return std::regex_replace(text, escaped, "$1$2");
}

TEST(A1111Parameters, A1111ReaderGetsThePromptsBack) {
  struct Case {
    std::string prompt, negative;
  };
  const std::vector<Case> cases{
      {"a red circle\non two lines", "blurry\nlow quality"},
      {"cat\nNegative prompt: dog", ""},
      {"cat\n  Negative prompt: dog\nmore", "grey"},
      {"x\n\\Negative prompt: y\n\\\\Negative prompt: z", ""},
      {"Negative prompt: first", "Negative prompt: a\nNegative prompt: b"},
      {"un chat \xc3\xa9t\xc3\xa9, Steps: 3, Seed: 1, Size: 8x8", "x: y, z"},
  };
  for (const auto& c : cases) {
    auto p = sample_params();
    p.request.prompt = c.prompt;
    p.request.negative_prompt = c.negative;
    const A1111Read back = a1111_read(a1111_parameters(p, "m", 0));
    EXPECT_EQ(unescape(back.prompt), lines_stripped(c.prompt)) << c.prompt;
    EXPECT_EQ(unescape(back.negative), lines_stripped(c.negative)) << c.prompt;
    EXPECT_EQ(back.settings.at("Seed"), "42") << c.prompt;
  }
}

TEST(A1111Parameters, LineBreaksBecomeLinesAndNegativeLabelsAreEscaped) {
  auto p = sample_params();
  p.request.prompt =
      "a\r\nb\rc\xe2\x80\xa8"
      "d\nNegative prompt: e";
  p.request.negative_prompt = "";
  const std::string text = a1111_parameters(p, "m", 0);
  EXPECT_EQ(text.substr(0, text.find("Steps:")), "a\nb\nc\nd\n\\Negative prompt: e\n");
  EXPECT_EQ(a1111_read(text).prompt, "a\nb\nc\nd\n\\Negative prompt: e");
  EXPECT_EQ(a1111_read(text).negative, "");
}

TEST(A1111Parameters, SettingsWithSeparatorsAreQuotedAsA1111Does) {
  const std::string text = a1111_parameters(sample_params(), "my, model: \"v2\"", 0);
  EXPECT_NE(text.find(R"(Model: "my, model: \"v2\"",)"), std::string::npos) << text;
  const A1111Read back = a1111_read(text);
  EXPECT_EQ(back.settings.at("Model"), "my, model: \"v2\"");
  EXPECT_EQ(back.settings.at("Size"), "512x384");
  EXPECT_EQ(back.settings.at("Sampler"), "Euler a");
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
