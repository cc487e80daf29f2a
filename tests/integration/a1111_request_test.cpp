// AUTOMATIC1111 txt2img bodies into FTDR requests (hosts/ftdr/serve/a1111_request.cpp): the field
// mapping, A1111's sampler names, the seed rule and the exact refusals in A1111's error shape.
#include <gtest/gtest.h>

#include "serve/a1111_request.hpp"

namespace ftdr::host::serve {
namespace {

using nlohmann::json;

const std::vector<std::string> kSamplers{"pndm", "ddim", "euler", "euler_a", "dpmpp_2m", "dpmpp_2m_karras",
                                         "lms"};

sdk::ModelInfo model() {
  sdk::ModelInfo m;
  m.name = "ftdr-shapes";
  m.default_sampler = "ddim";
  return m;
}

sdk::GenerationRequest defaults() {
  sdk::GenerationRequest d;
  d.width = 64;
  d.height = 64;
  d.steps = 20;
  return d;
}

A1111Txt2Img parse(const json& body) {
  return parse_a1111_txt2img(body.dump(), defaults(), model(), kSamplers);
}

// The status and the "detail" an A1111 client sees for `body`.
std::pair<int, json> refusal(const std::string& body) {
  try {
    parse_a1111_txt2img(body, defaults(), model(), kSamplers);
  } catch (const A1111Error& e) {
    return {e.status(), e.detail()};
  }
  ADD_FAILURE() << "accepted: " << body;
  return {0, nullptr};
}

TEST(A1111Request, MapsTheFieldsFtdrUses) {
  const A1111Txt2Img t = parse({{"prompt", "a red circle"},
                                {"negative_prompt", "blue"},
                                {"steps", 12},
                                {"cfg_scale", 6.5},
                                {"sampler_name", "DPM++ 2M Karras"},
                                {"seed", 42},
                                {"width", 128},
                                {"height", 96},
                                {"batch_size", 3},
                                {"n_iter", 2}});
  EXPECT_EQ(t.request.prompt, "a red circle");
  EXPECT_EQ(t.request.negative_prompt, "blue");
  EXPECT_EQ(t.request.steps, 12);
  EXPECT_EQ(t.request.cfg_scale, 6.5);
  EXPECT_EQ(t.request.sampler, "dpmpp_2m_karras");
  EXPECT_EQ(t.sampler_name, "DPM++ 2M Karras");
  EXPECT_EQ(t.request.seed, 42u);
  EXPECT_FALSE(t.random_seed);
  EXPECT_EQ(t.request.width, 128);
  EXPECT_EQ(t.request.height, 96);
  EXPECT_EQ(t.request.batch, 3);
  EXPECT_EQ(t.n_iter, 2);
  EXPECT_TRUE(t.ignored.empty());
}

TEST(A1111Request, AbsentFieldsTakeTheConfigDefaultsAndSeedMinusOneIsRandom) {
  const A1111Txt2Img t = parse({{"prompt", "x"}, {"seed", -1}});
  EXPECT_TRUE(t.random_seed);
  EXPECT_EQ(t.request.steps, 20);
  EXPECT_EQ(t.request.width, 64);
  EXPECT_EQ(t.request.sampler, "default");
  EXPECT_EQ(t.sampler_name, "DDIM");  // the model's own sampler, named as A1111 names it
  EXPECT_EQ(t.n_iter, 1);
  EXPECT_EQ(t.parameters["seed"], -1);  // echoed as sent
}

TEST(A1111Request, EverySamplerNameAndAliasMapsToFtdrs) {
  const std::vector<std::pair<std::string, std::string>> names{{"Euler a", "euler_a"},
                                                               {"Euler", "euler"},
                                                               {"DPM++ 2M", "dpmpp_2m"},
                                                               {"DPM++ 2M Karras", "dpmpp_2m_karras"},
                                                               {"DDIM", "ddim"},
                                                               {"PLMS", "pndm"},
                                                               {"LMS", "lms"},
                                                               {"k_euler_a", "euler_a"},
                                                               {"k_dpmpp_2m_ka", "dpmpp_2m_karras"},
                                                               {"euler a", "euler_a"},
                                                               {"euler_a", "euler_a"},
                                                               {"k_lms", "lms"}};
  for (const auto& [a1111, ftdr] : names) EXPECT_EQ(ftdr_sampler(a1111, kSamplers), ftdr) << a1111;
  // The deprecated sampler_index is used when sampler_name is absent.
  EXPECT_EQ(parse({{"sampler_index", "Euler"}}).request.sampler, "euler");
  EXPECT_EQ(parse({{"sampler_index", "Euler"}, {"sampler_name", "LMS"}}).request.sampler, "lms");
}

TEST(A1111Request, OnlyTheBackendsSamplersAreListed) {
  const auto listed = a1111_samplers({"euler_a", "ddim"});
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[0].name, "Euler a");
  EXPECT_EQ(listed[0].aliases, (std::vector<std::string>{"k_euler_a", "k_euler_ancestral"}));
  EXPECT_EQ(listed[1].name, "DDIM");
}

TEST(A1111Request, AnUnknownSamplerIs404NamingIt) {
  const auto [status, detail] = refusal(R"({"sampler_name": "Heun"})");
  EXPECT_EQ(status, 404);
  EXPECT_EQ(detail,
            "Sampler not found: 'Heun' (samplers: DPM++ 2M, DPM++ 2M Karras, Euler a, Euler, LMS, "
            "DDIM, PLMS)");
}

TEST(A1111Request, OtherA1111FieldsAreAcceptedAndListedAsIgnored) {
  const A1111Txt2Img t = parse({{"prompt", "x"},
                                {"restore_faces", false},
                                {"enable_hr", true},
                                {"styles", json::array()},
                                {"eta", 1.0},
                                {"sampler_name", "Euler a"}});
  EXPECT_EQ(t.ignored, (std::vector<std::string>{"enable_hr", "eta", "restore_faces", "styles"}));
  EXPECT_EQ(t.request.eta, 0.0);                                                // eta is DDIM's only
  EXPECT_EQ(parse({{"eta", 0.5}, {"sampler_name", "DDIM"}}).request.eta, 0.5);  // and used there
}

TEST(A1111Request, WrongTypesAre422NamingTheField) {
  const std::vector<std::pair<std::string, json>> cases{
      {R"({"steps": "20"})",
       {{{"loc", {"body", "steps"}},
         {"msg", "value is not a valid integer"},
         {"type", "type_error.integer"}}}},
      {R"({"steps": 2.5})",
       {{{"loc", {"body", "steps"}},
         {"msg", "value is not a valid integer"},
         {"type", "type_error.integer"}}}},
      {R"({"prompt": 3})",
       {{{"loc", {"body", "prompt"}}, {"msg", "str type expected"}, {"type", "type_error.str"}}}},
      {R"({"cfg_scale": "7"})",
       {{{"loc", {"body", "cfg_scale"}},
         {"msg", "value is not a valid float"},
         {"type", "type_error.float"}}}},
      {R"({"sampler_name": 1})",
       {{{"loc", {"body", "sampler_name"}}, {"msg", "str type expected"}, {"type", "type_error.str"}}}},
      {R"([1])",
       {{{"loc", {"body"}}, {"msg", "value is not a valid dict, got array"}, {"type", "type_error.dict"}}}}};
  for (const auto& [body, detail] : cases) EXPECT_EQ(refusal(body), std::make_pair(422, detail)) << body;
  EXPECT_EQ(refusal("{").second[0]["type"], "value_error.jsondecode");
}

TEST(A1111Request, OutOfRangeValuesAre422NamingTheField) {
  EXPECT_EQ(refusal(R"({"seed": -2})"),
            std::make_pair(422, json{{{"loc", {"body", "seed"}},
                                      {"msg", "ensure this value is greater than or equal to -1"},
                                      {"type", "value_error.number.not_ge"}}}));
  EXPECT_EQ(refusal(R"({"n_iter": 0})").second[0]["loc"], json({"body", "n_iter"}));
  EXPECT_EQ(refusal(R"({"batch_size": 1000})").second[0]["loc"], json({"body", "batch_size"}));
  // The framework's own checks, with A1111's field name.
  const auto [status, detail] = refusal(R"({"width": 60})");
  EXPECT_EQ(status, 422);
  EXPECT_EQ(detail[0]["loc"], json({"body", "width"}));
  EXPECT_NE(detail[0]["msg"].get<std::string>().find("request field 'width'"), std::string::npos) << detail;
  EXPECT_EQ(refusal(R"({"cfg_scale": 500})").second[0]["loc"], json({"body", "cfg_scale"}));
}

}  // namespace
}  // namespace ftdr::host::serve
