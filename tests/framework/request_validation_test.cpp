// validate_request: every field's check names the field and what was expected.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>

#include "ftdr/framework/jobs/request_validation.hpp"
#include "ftdr/sdk/error.hpp"

using ftdr::framework::validate_request;
using ftdr::sdk::GenerationRequest;

namespace {

// The names a libtorch-like backend lists (ModelBackend::samplers()).
const std::vector<std::string> kSamplers{"pndm", "ddim", "euler"};

std::string rejection(const std::function<void(GenerationRequest&)>& edit,
                      const ftdr::sdk::ModelInfo* info = nullptr,
                      const std::vector<std::string>* samplers = &kSamplers) {
  GenerationRequest r;
  r.prompt = "ok";
  edit(r);
  try {
    validate_request(r, info, samplers);
  } catch (const ftdr::sdk::Error& e) {
    EXPECT_EQ(e.kind(), ftdr::sdk::ErrorKind::invalid_request);
    return e.what();
  }
  return "";
}

}  // namespace

TEST(RequestValidation, DefaultsAreValid) {
  EXPECT_EQ(rejection([](GenerationRequest&) {}), "");
  EXPECT_EQ(rejection([](GenerationRequest& r) { r.prompt.clear(); }), "")
      << "an empty prompt is unconditional";
}

TEST(RequestValidation, EachBadFieldIsNamed) {
  EXPECT_EQ(rejection([](GenerationRequest& r) { r.width = 500; }),
            "request field 'width': expected 0 (the model's default size) or a multiple of 8 in [8, 8192], "
            "got 500");
  EXPECT_NE(rejection([](GenerationRequest& r) { r.height = -8; }).find("'height'"), std::string::npos);
  EXPECT_EQ(rejection([](GenerationRequest& r) { r.steps = 0; }),
            "request field 'steps': expected an integer in [1, 1000], got 0");
  EXPECT_NE(rejection([](GenerationRequest& r) { r.batch = 65; }).find("'batch'"), std::string::npos);
  EXPECT_NE(rejection([](GenerationRequest& r) { r.cfg_scale = -1; }).find("'cfg_scale'"), std::string::npos);
  EXPECT_NE(rejection([](GenerationRequest& r) { r.eta = 2; }).find("'eta'"), std::string::npos);
  EXPECT_NE(rejection([](GenerationRequest& r) { r.clip_skip = -1; }).find("'clip_skip'"), std::string::npos);
  EXPECT_EQ(rejection([](GenerationRequest& r) { r.sampler = "eular"; }),
            "request field 'sampler': expected one of default, pndm, ddim, euler, got 'eular'");
  EXPECT_NE(rejection([](GenerationRequest& r) { r.output_prefix = "../x"; }).find("'output_prefix'"),
            std::string::npos);
  EXPECT_NE(rejection([](GenerationRequest& r) { r.seed = UINT64_MAX; }).find("'seed'"), std::string::npos);
}

// Without a model, 0 stands for its default size; once the model is known the host puts that in
// (with_model_size), and a 0 left over is refused.
TEST(RequestValidation, ZeroIsTheModelsDefaultSize) {
  EXPECT_EQ(rejection([](GenerationRequest& r) { r.width = r.height = 0; }), "");
  ftdr::sdk::ModelInfo sdxl;
  sdxl.default_size = 1024;
  EXPECT_EQ(rejection([](GenerationRequest& r) { r.width = 0; }, &sdxl),
            "request field 'width': expected a multiple of 8 in [8, 8192], got 0");
  GenerationRequest r;
  r.width = 0;
  r.height = 0;
  const GenerationRequest sized = ftdr::framework::with_model_size(r, sdxl);
  EXPECT_EQ(sized.width, 1024);
  EXPECT_EQ(sized.height, 1024);
  r.height = 768;
  EXPECT_EQ(ftdr::framework::with_model_size(r, sdxl).height, 768) << "a given side stays";
  EXPECT_EQ(ftdr::framework::with_model_size(r, sdxl).width, 1024);
}

TEST(RequestValidation, UsesTheModelsVaeFactor) {
  ftdr::sdk::ModelInfo info;
  info.vae_scale_factor = 16;
  EXPECT_NE(rejection([](GenerationRequest& r) { r.width = 520; }, &info).find("multiple of 16"),
            std::string::npos);
  EXPECT_EQ(rejection([](GenerationRequest& r) { r.width = 528; }, &info), "");
}

// Issue 15: text that the JSON writer or the PNG chunk cannot carry is refused up front, with the
// byte named, and numbers outside the documented ranges too.
TEST(RequestValidation, TextMustBeUtf8WithoutControlCharacters) {
  EXPECT_EQ(rejection([](GenerationRequest& r) { r.prompt = "ab\xff"; }),
            "request field 'prompt': expected UTF-8 text without control characters other than tab and line "
            "breaks, got an invalid UTF-8 byte 0xff at byte 2");
  EXPECT_EQ(
      rejection([](GenerationRequest& r) { r.negative_prompt = "x\x1b[31m"; }),
      "request field 'negative_prompt': expected UTF-8 text without control characters other than tab and "
      "line breaks, got control character U+001B at byte 1");
  EXPECT_NE(rejection([](GenerationRequest& r) { r.prompt = "\xc0\xaf"; }).find("invalid UTF-8 byte 0xc0"),
            std::string::npos)
      << "an overlong '/'";
  EXPECT_NE(
      rejection([](GenerationRequest& r) { r.prompt = "\xed\xa0\x80"; }).find("invalid UTF-8 byte 0xed"),
      std::string::npos)
      << "a surrogate";
  EXPECT_NE(rejection([](GenerationRequest& r) { r.prompt = std::string("a\0b", 3); }).find("U+0000"),
            std::string::npos);
  EXPECT_NE(rejection([](GenerationRequest& r) { r.prompt = "a\xc2\x85"; }).find("U+0085"),
            std::string::npos);
  EXPECT_EQ(
      rejection([](GenerationRequest& r) { r.prompt = "un chat \xc3\xa9t\xc3\xa9\tcat\r\n\xe7\x8c\xab"; }),
      "");
}

TEST(RequestValidation, PrefixIsAFileNamePrefix) {
  EXPECT_EQ(
      rejection([](GenerationRequest& r) { r.output_prefix = "a\nb"; }),
      "request field 'output_prefix': expected a file name prefix: UTF-8 without control characters, got "
      "control character U+000A at byte 1");
  EXPECT_NE(rejection([](GenerationRequest& r) { r.output_prefix = "a\\b"; }).find("without '/' or '\\'"),
            std::string::npos);
  EXPECT_EQ(rejection([](GenerationRequest& r) { r.output_prefix = std::string(201, 'x'); }),
            "request field 'output_prefix': expected at most 200 bytes, got 201 bytes");
  EXPECT_EQ(rejection([](GenerationRequest& r) { r.output_prefix = std::string(200, 'x'); }), "");
}

TEST(RequestValidation, CfgAndEtaInTheirDocumentedRanges) {
  EXPECT_EQ(rejection([](GenerationRequest& r) { r.cfg_scale = 1e30; }),
            "request field 'cfg_scale': expected a number in [0, 100], got 1e+30");
  EXPECT_EQ(rejection([](GenerationRequest& r) { r.cfg_scale = std::nan(""); }),
            "request field 'cfg_scale': expected a number in [0, 100], got nan");
  EXPECT_EQ(rejection([](GenerationRequest& r) { r.cfg_scale = 100; }), "");
  EXPECT_EQ(rejection([](GenerationRequest& r) { r.eta = HUGE_VAL; }),
            "request field 'eta': expected a number in [0, 1], got inf");
}

TEST(RequestValidation, SamplerNamesAreTheBackendsOwn) {
  const std::vector<std::string> other{"heun", "my_sampler"};
  EXPECT_EQ(rejection([](GenerationRequest& r) { r.sampler = "my_sampler"; }, nullptr, &other), "")
      << "a name only another backend knows is accepted when that backend lists it";
  EXPECT_EQ(rejection([](GenerationRequest& r) { r.sampler = "default"; }, nullptr, &other), "");
  EXPECT_EQ(rejection([](GenerationRequest& r) { r.sampler = "euler"; }, nullptr, &other),
            "request field 'sampler': expected one of default, heun, my_sampler, got 'euler'");
  // A backend that lists none (older than ABI 1.2): its validate() decides, the host checks nothing.
  const std::vector<std::string> none;
  EXPECT_EQ(rejection([](GenerationRequest& r) { r.sampler = "anything"; }, nullptr, &none), "");
}
