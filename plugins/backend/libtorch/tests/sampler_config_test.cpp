// Sampler construction without reference data: names, the scheduler_config defaults rule, refused
// options, known schedule values (from the reference README) and step-order checks.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <tuple>
#include <vector>

#include "ftdr/sdk/error.hpp"
#include "samplers/sampler.hpp"
#include "samplers/scheduler_config.hpp"

namespace ftdr::test {
namespace {

using torchbe::make_sampler;
using torchbe::SamplerKind;
using torchbe::SchedulerConfig;

// runwayml/stable-diffusion-v1-5's scheduler_config.json.
nlohmann::json sd15() {
  return nlohmann::json::parse(R"({"_class_name": "PNDMScheduler", "_diffusers_version": "0.6.0",
    "beta_end": 0.012, "beta_schedule": "scaled_linear", "beta_start": 0.00085, "num_train_timesteps": 1000,
    "set_alpha_to_one": false, "skip_prk_steps": true, "steps_offset": 1, "trained_betas": null,
    "clip_sample": false})");
}

template <typename F>
sdk::ErrorKind error_kind(F&& f, std::string* message = nullptr) {
  try {
    f();
  } catch (const sdk::Error& e) {
    if (message) *message = e.what();
    return e.kind();
  }
  ADD_FAILURE() << "no sdk::Error thrown";
  return sdk::ErrorKind::internal;
}

TEST(SamplerConfig, UnknownNameListsTheValidOnes) {
  std::string msg;
  EXPECT_EQ(error_kind([] { make_sampler("heun", sd15()); }, &msg), sdk::ErrorKind::invalid_request);
  for (const auto& name : torchbe::sampler_names()) EXPECT_NE(msg.find(name), std::string::npos) << msg;
  EXPECT_NE(msg.find("heun"), std::string::npos);
}

TEST(SamplerConfig, DefaultFollowsTheFileClass) {
  EXPECT_EQ(torchbe::default_sampler_name(sd15()), "pndm");
  auto cfg = sd15();
  cfg["_class_name"] = "DPMSolverMultistepScheduler";
  cfg["use_karras_sigmas"] = true;
  EXPECT_EQ(torchbe::default_sampler_name(cfg), "dpmpp_2m_karras");
  cfg["_class_name"] = "UniPCMultistepScheduler";
  EXPECT_EQ(error_kind([&] { make_sampler("default", cfg); }), sdk::ErrorKind::model_error);
}

TEST(SamplerConfig, AbsentKeysTakeTheNewClassDefaults) {
  const auto pndm = SchedulerConfig::resolve(sd15(), SamplerKind::pndm);
  const auto ddim = SchedulerConfig::resolve(sd15(), SamplerKind::ddim);
  const auto euler = SchedulerConfig::resolve(sd15(), SamplerKind::euler);
  EXPECT_EQ(pndm.timestep_spacing, "leading");
  EXPECT_EQ(ddim.timestep_spacing, "leading");
  EXPECT_EQ(euler.timestep_spacing, "linspace");
  EXPECT_FALSE(ddim.set_alpha_to_one);  // from the file (DDIM's own default is true)
  EXPECT_FALSE(ddim.clip_sample);       // from the file (DDIM's own default is true)
  auto no_clip_key = sd15();
  no_clip_key.erase("clip_sample");
  EXPECT_TRUE(SchedulerConfig::resolve(no_clip_key, SamplerKind::ddim).clip_sample);
  auto trailing = sd15();
  trailing["timestep_spacing"] = "trailing";
  EXPECT_EQ(SchedulerConfig::resolve(trailing, SamplerKind::euler).timestep_spacing, "trailing");
}

TEST(SamplerConfig, UnsupportedOptionsAreRefusedNamingTheKey) {
  auto cfg = sd15();
  cfg["thresholding"] = true;
  std::string msg;
  EXPECT_EQ(error_kind([&] { make_sampler("ddim", cfg); }, &msg), sdk::ErrorKind::model_error);
  EXPECT_NE(msg.find("thresholding"), std::string::npos) << msg;
  EXPECT_NO_THROW(make_sampler("euler", cfg));  // Euler has no such option: ignored, as diffusers does
  auto bad = sd15();
  bad["beta_schedule"] = "sigmoid";
  EXPECT_EQ(error_kind([&] { make_sampler("euler", bad); }, &msg), sdk::ErrorKind::model_error);
  EXPECT_NE(msg.find("beta_schedule"), std::string::npos) << msg;
  auto wrong_type = sd15();
  wrong_type["steps_offset"] = "one";
  EXPECT_EQ(error_kind([&] { make_sampler("pndm", wrong_type); }, &msg), sdk::ErrorKind::model_error);
  EXPECT_NE(msg.find("steps_offset"), std::string::npos) << msg;
}

// Values that would make the schedule NaN or wrap: refused naming the key, for the samplers that
// read them; check_scheduler_config (model load) tries every sampler.
TEST(SamplerConfig, NumbersOutOfRangeAreRefusedNamingTheKey) {
  const std::vector<std::tuple<std::string, nlohmann::json, std::string>> cases = {
      {"beta_start", 0, "pndm"},
      {"beta_end", 0.0001, "ddim"},  // below beta_start
      {"num_train_timesteps", int64_t{1} << 33, "euler"},
      {"steps_offset", 1000, "lms"},
      {"clip_sample_range", -1, "ddim"},
      {"sigma_max", 0.01, "euler"},  // below sigma_min
  };
  for (const auto& [key, value, sampler] : cases) {
    auto cfg = sd15();
    cfg[key] = value;
    if (key == "sigma_max") cfg["sigma_min"] = 0.1;
    std::string msg;
    EXPECT_EQ(error_kind([&, s = sampler] { make_sampler(s, cfg); }, &msg), sdk::ErrorKind::model_error)
        << key;
    EXPECT_NE(msg.find("'" + (key == "sigma_max" ? std::string("sigma_min") : key) + "'"), std::string::npos)
        << msg;
    EXPECT_EQ(error_kind([&] { torchbe::check_scheduler_config(cfg, "s.json"); }),
              sdk::ErrorKind::model_error)
        << key;
  }
  auto trained = sd15();
  trained["trained_betas"] = std::vector<double>(1000, 1.5);
  EXPECT_EQ(error_kind([&] { make_sampler("pndm", trained); }), sdk::ErrorKind::model_error);
  EXPECT_NO_THROW(torchbe::check_scheduler_config(sd15(), "s.json"));
}

TEST(SamplerConfig, StepCountIsValidated) {
  auto s = make_sampler("euler", sd15());
  EXPECT_EQ(error_kind([&] { s->set_timesteps(0); }), sdk::ErrorKind::invalid_request);
  EXPECT_EQ(error_kind([&] { s->set_timesteps(1001); }), sdk::ErrorKind::invalid_request);
  // "leading" + steps_offset 1 at 1000 steps reaches t = 1000: refused instead of indexing past the end.
  auto pndm = make_sampler("pndm", sd15());
  EXPECT_EQ(error_kind([&] { pndm->set_timesteps(1000); }), sdk::ErrorKind::invalid_request);
  EXPECT_NO_THROW(pndm->set_timesteps(999));
}

TEST(SamplerSchedule, KnownValuesFromDiffusers) {
  auto pndm = make_sampler("pndm", sd15());
  pndm->set_timesteps(4);
  EXPECT_EQ(pndm->timesteps(), (std::vector<double>{751, 501, 501, 251, 1}));
  auto euler = make_sampler("euler", sd15());
  euler->set_timesteps(20);
  EXPECT_EQ(euler->timesteps()[1], static_cast<double>(946.4210815429688f));
  EXPECT_NEAR(euler->init_noise_sigma(), 14.614645004272461, 1e-6);
  EXPECT_EQ(euler->sigmas().back(), 0.0);
  auto karras = make_sampler("dpmpp_2m_karras", sd15());
  karras->set_timesteps(10);
  EXPECT_EQ(karras->timesteps(), (std::vector<double>{999, 916, 815, 687, 523, 327, 146, 41, 7, 0}));
  auto ddim = make_sampler("ddim", sd15());
  ddim->set_timesteps(10);
  EXPECT_EQ(ddim->timesteps().front(), 901);
  EXPECT_EQ(ddim->init_noise_sigma(), 1.0);
}

TEST(SamplerSchedule, AnyStepCountAndSpacingGivesDescendingTimesteps) {
  for (const char* spacing : {"linspace", "leading", "trailing"}) {
    auto cfg = sd15();
    cfg["timestep_spacing"] = spacing;
    for (const auto& name : torchbe::sampler_names()) {
      for (int n : {1, 2, 3, 7, 33, 999, 1000}) {
        SCOPED_TRACE(std::string(spacing) + " " + name + " " + std::to_string(n));
        auto s = make_sampler(name, cfg);
        if (n == 1000 && std::string(spacing) == "leading" && (name == "pndm" || name == "ddim")) continue;
        s->set_timesteps(n);
        const auto& t = s->timesteps();
        ASSERT_FALSE(t.empty());
        EXPECT_GE(t.back(), 0);
        EXPECT_LE(t.front(), 1000);
        for (size_t i = 1; i < t.size(); ++i) EXPECT_LE(t[i], t[i - 1]);
        if (!s->sigmas().empty()) {
          EXPECT_EQ(s->sigmas().size(), t.size() + 1);
        }
      }
    }
  }
}

TEST(SamplerSteps, OutOfOrderStepsAreRefused) {
  for (const char* name : {"pndm", "dpmpp_2m", "lms"}) {
    auto s = make_sampler(name, sd15());
    s->set_timesteps(4);
    const at::Tensor x = at::zeros({1, 4, 8, 8});
    EXPECT_EQ(error_kind([&] { s->step(x, 2, x, at::Tensor()); }), sdk::ErrorKind::internal) << name;
  }
  auto euler_a = make_sampler("euler_a", sd15());
  euler_a->set_timesteps(4);
  EXPECT_TRUE(euler_a->needs_noise(0));
  EXPECT_TRUE(euler_a->needs_noise(3));
  EXPECT_FALSE(make_sampler("ddim", sd15())->needs_noise(0));
  EXPECT_TRUE(make_sampler("ddim", sd15(), 0.5)->needs_noise(0));
  EXPECT_EQ(error_kind([] { make_sampler("ddim", sd15(), -1); }), sdk::ErrorKind::invalid_request);
}

TEST(SamplerSteps, DdimEtaNoiseIsUsed) {
  auto a = make_sampler("ddim", sd15(), 1.0), b = make_sampler("ddim", sd15(), 1.0);
  a->set_timesteps(4);
  b->set_timesteps(4);
  const at::Tensor x = at::ones({1, 4, 8, 8}), eps = at::full({1, 4, 8, 8}, 0.1);
  const at::Tensor ya = a->step(eps, 0, x, at::zeros_like(x));
  const at::Tensor yb = b->step(eps, 0, x, at::ones_like(x));
  EXPECT_GT((yb - ya).abs().min().item<double>(), 0.01);
}

}  // namespace
}  // namespace ftdr::test
