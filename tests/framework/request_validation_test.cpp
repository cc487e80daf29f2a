// validate_request: every field's check names the field and what was expected.
#include <gtest/gtest.h>

#include <functional>

#include "ftdr/framework/request_validation.hpp"
#include "ftdr/sdk/error.hpp"

using ftdr::framework::validate_request;
using ftdr::sdk::GenerationRequest;

namespace {

// The names a libtorch-like backend lists (ModelBackend::samplers()).
const std::vector<std::string> kSamplers{"pndm", "ddim", "euler"};

std::string rejection(const std::function<void(GenerationRequest&)>& edit, const ftdr::sdk::ModelInfo* info = nullptr,
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
  EXPECT_EQ(rejection([](GenerationRequest& r) { r.prompt.clear(); }), "") << "an empty prompt is unconditional";
}

TEST(RequestValidation, EachBadFieldIsNamed) {
  EXPECT_EQ(rejection([](GenerationRequest& r) { r.width = 500; }),
            "request field 'width': expected a multiple of 8 in [8, 8192], got 500");
  EXPECT_NE(rejection([](GenerationRequest& r) { r.height = 0; }).find("'height'"), std::string::npos);
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

TEST(RequestValidation, UsesTheModelsVaeFactor) {
  ftdr::sdk::ModelInfo info;
  info.vae_scale_factor = 16;
  EXPECT_NE(rejection([](GenerationRequest& r) { r.width = 520; }, &info).find("multiple of 16"), std::string::npos);
  EXPECT_EQ(rejection([](GenerationRequest& r) { r.width = 528; }, &info), "");
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
