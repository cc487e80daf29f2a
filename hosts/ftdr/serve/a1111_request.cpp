// AUTOMATIC1111 txt2img bodies and sampler names (see a1111_request.hpp).
#include "a1111_request.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>

#include "api_request.hpp"
#include "ftdr/framework/jobs/request_validation.hpp"
#include "ftdr/framework/output/png_writer.hpp"
#include "ftdr/sdk/error.hpp"

namespace ftdr::host::serve {

namespace fw = ftdr::framework;
using nlohmann::json;

namespace {

// A1111's names, aliases and options (modules/sd_samplers_kdiffusion.py, sd_samplers_timesteps.py).
const std::vector<A1111Sampler>& sampler_table() {
  static const std::vector<A1111Sampler> table{
      {"DPM++ 2M", "dpmpp_2m", {"k_dpmpp_2m"}, {}},
      {"DPM++ 2M Karras", "dpmpp_2m_karras", {"k_dpmpp_2m_ka"}, {{"scheduler", "karras"}}},
      {"Euler a", "euler_a", {"k_euler_a", "k_euler_ancestral"}, {{"uses_ensd", "True"}}},
      {"Euler", "euler", {"k_euler"}, {}},
      {"LMS", "lms", {"k_lms"}, {}},
      {"DDIM", "ddim", {"ddim"}, {}},
      {"PLMS", "pndm", {"plms", "PNDM"}, {}}};
  return table;
}

// The body fields FTDR uses; every other one is ignored.
constexpr const char* kUsed[] = {"prompt",       "negative_prompt", "steps",  "cfg_scale",
                                 "sampler_name", "sampler_index",   "seed",   "width",
                                 "height",       "batch_size",      "n_iter", "eta"};

bool same_name(const std::string& a, const std::string& b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

bool given(const json& body, const char* field) {
  auto it = body.find(field);
  return it != body.end() && !it->is_null();
}

std::string text_field(const json& body, const char* field, const std::string& fallback) {
  if (!given(body, field)) return fallback;
  if (!body[field].is_string()) throw a1111_field_error(field, "str type expected", "type_error.str");
  return body[field].get<std::string>();
}

double number_field(const json& body, const char* field, double fallback) {
  if (!given(body, field)) return fallback;
  if (!body[field].is_number())
    throw a1111_field_error(field, "value is not a valid float", "type_error.float");
  return body[field].get<double>();
}

// A whole number (20 or 20.0, as pydantic takes it) in [min, max].
std::int64_t int_field(const json& body, const char* field, std::int64_t fallback, std::int64_t min,
                       std::int64_t max) {
  if (!given(body, field)) return fallback;
  const json& v = body[field];
  double d = v.is_number() ? v.get<double>() : 0.5;
  if (!v.is_number() || d != std::floor(d) || std::abs(d) > 9.0e18)
    throw a1111_field_error(field, "value is not a valid integer", "type_error.integer");
  const std::int64_t n = v.is_number_integer() ? v.get<std::int64_t>() : static_cast<std::int64_t>(d);
  if (v.is_number_unsigned() && v.get<std::uint64_t>() > static_cast<std::uint64_t>(max))
    throw a1111_field_error(field, "ensure this value is less than or equal to " + std::to_string(max),
                            "value_error.number.not_le");
  if (n < min)
    throw a1111_field_error(field, "ensure this value is greater than or equal to " + std::to_string(min),
                            "value_error.number.not_ge");
  if (n > max)
    throw a1111_field_error(field, "ensure this value is less than or equal to " + std::to_string(max),
                            "value_error.number.not_le");
  return n;
}

// The framework's range checks, their field named as A1111 names it.
void validate(const sdk::GenerationRequest& r, const sdk::ModelInfo& model,
              const std::vector<std::string>& samplers) {
  try {
    fw::validate_request(r, &model, &samplers);
  } catch (const sdk::Error& e) {
    const std::string message = e.what();
    std::string field = field_named_in(message);
    if (field == "batch") field = "batch_size";
    if (field == "sampler") field = "sampler_name";
    throw a1111_field_error(field, message, "value_error");
  }
}

json parse_object(const std::string& text) {
  json body;
  try {
    body = json::parse(text);
  } catch (const json::exception& e) {
    throw A1111Error(422, json::array({{{"loc", {"body", 0}},
                                        {"msg", std::string("request body: not valid JSON: ") + e.what()},
                                        {"type", "value_error.jsondecode"}}}));
  }
  if (!body.is_object())
    throw A1111Error(422,
                     json::array({{{"loc", {"body"}},
                                   {"msg", std::string("value is not a valid dict, got ") + body.type_name()},
                                   {"type", "type_error.dict"}}}));
  return body;
}

}  // namespace

A1111Error a1111_field_error(const std::string& field, const std::string& message, const std::string& type) {
  return A1111Error(422, json::array({{{"loc", {"body", field}}, {"msg", message}, {"type", type}}}));
}

std::vector<A1111Sampler> a1111_samplers(const std::vector<std::string>& samplers) {
  std::vector<A1111Sampler> out;
  for (const auto& s : sampler_table())
    if (std::find(samplers.begin(), samplers.end(), s.ftdr) != samplers.end()) out.push_back(s);
  return out;
}

std::string ftdr_sampler(const std::string& name, const std::vector<std::string>& samplers) {
  std::string known;
  for (const auto& s : a1111_samplers(samplers)) {
    bool match = same_name(name, s.name) || same_name(name, s.ftdr);
    for (const auto& alias : s.aliases) match = match || same_name(name, alias);
    if (match) return s.ftdr;
    known += (known.empty() ? "" : ", ") + s.name;
  }
  throw A1111Error(404, "Sampler not found: '" + name + "' (samplers: " + known + ")");
}

A1111Txt2Img parse_a1111_txt2img(const std::string& text, const sdk::GenerationRequest& defaults,
                                 const sdk::ModelInfo& model, const std::vector<std::string>& samplers) {
  const json body = parse_object(text);
  A1111Txt2Img out;
  sdk::GenerationRequest& r = out.request;
  r = fw::with_model_size(defaults, model);  // the config's width/height 0: the model's default size
  r.prompt = text_field(body, "prompt", "");
  r.negative_prompt = text_field(body, "negative_prompt", "");
  r.steps = static_cast<int>(int_field(body, "steps", defaults.steps, 1, 10000));
  r.cfg_scale = number_field(body, "cfg_scale", defaults.cfg_scale);
  r.width = static_cast<int>(int_field(body, "width", r.width, 8, 16384));
  r.height = static_cast<int>(int_field(body, "height", r.height, 8, 16384));
  r.batch = static_cast<int>(int_field(body, "batch_size", defaults.batch, 1, 64));
  out.n_iter = static_cast<int>(int_field(body, "n_iter", 1, 1, 100));
  const std::int64_t seed = int_field(body, "seed", -1, -1, std::numeric_limits<std::int64_t>::max());
  out.random_seed = seed == -1;
  r.seed = out.random_seed ? 0 : static_cast<std::uint64_t>(seed);
  const std::string by_index = text_field(body, "sampler_index", "");
  const std::string asked = text_field(body, "sampler_name", by_index);
  r.sampler = asked.empty() ? defaults.sampler : ftdr_sampler(asked, samplers);
  out.sampler_name = fw::a1111_sampler_name(r.sampler == "default" ? model.default_sampler : r.sampler);
  r.eta = 0;
  if (r.sampler == "ddim") r.eta = number_field(body, "eta", 0.0);
  validate(r, model, samplers);

  out.parameters = body;
  for (auto it = body.begin(); it != body.end(); ++it) {
    const bool used =
        std::any_of(std::begin(kUsed), std::end(kUsed), [&](const char* f) { return it.key() == f; });
    if (!used || (it.key() == "eta" && r.sampler != "ddim" && !it->is_null()))
      out.ignored.push_back(it.key());
  }
  out.parameters.update({{"prompt", r.prompt},
                         {"negative_prompt", r.negative_prompt},
                         {"steps", r.steps},
                         {"cfg_scale", r.cfg_scale},
                         {"width", r.width},
                         {"height", r.height},
                         {"batch_size", r.batch},
                         {"n_iter", out.n_iter},
                         {"seed", seed},
                         {"sampler_name", out.sampler_name}});
  return out;
}

}  // namespace ftdr::host::serve
