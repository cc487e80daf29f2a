// GenerationRequest <-> JSON (see request_json.hpp).
#include "ftdr/framework/request_json.hpp"

#include "ftdr/sdk/error.hpp"

namespace ftdr::framework {
namespace {

template <typename T>
void read_field(const nlohmann::json& json, const char* key, T& out, const char* expected) {
  auto it = json.find(key);
  if (it == json.end()) return;
  try {
    out = it->get<T>();
  } catch (const nlohmann::json::exception&) {
    throw sdk::Error(sdk::ErrorKind::invalid_request,
                     std::string("request field '") + key + "': expected " + expected + " (got " + it->type_name() + ")");
  }
}

}  // namespace

nlohmann::json request_json(const sdk::GenerationRequest& r) {
  return nlohmann::json{{"prompt", r.prompt},       {"negative_prompt", r.negative_prompt},
                        {"width", r.width},         {"height", r.height},
                        {"steps", r.steps},         {"cfg_scale", r.cfg_scale},
                        {"sampler", r.sampler},     {"seed", r.seed},
                        {"batch", r.batch},         {"eta", r.eta},
                        {"clip_skip", r.clip_skip}, {"output_dir", r.output_dir},
                        {"output_prefix", r.output_prefix}};
}

sdk::GenerationRequest request_from_json(const nlohmann::json& json) {
  if (!json.is_object())
    throw sdk::Error(sdk::ErrorKind::invalid_request, std::string("request: expected a JSON object (got ") + json.type_name() + ")");
  const nlohmann::json known = request_json({});
  for (auto it = json.begin(); it != json.end(); ++it)
    if (!known.contains(it.key()))
      throw sdk::Error(sdk::ErrorKind::invalid_request, "request: unknown field '" + it.key() + "'");
  sdk::GenerationRequest r;
  read_field(json, "prompt", r.prompt, "a string");
  read_field(json, "negative_prompt", r.negative_prompt, "a string");
  read_field(json, "width", r.width, "an integer");
  read_field(json, "height", r.height, "an integer");
  read_field(json, "steps", r.steps, "an integer");
  read_field(json, "cfg_scale", r.cfg_scale, "a number");
  read_field(json, "sampler", r.sampler, "a string");
  read_field(json, "seed", r.seed, "an unsigned integer");
  read_field(json, "batch", r.batch, "an integer");
  read_field(json, "eta", r.eta, "a number");
  read_field(json, "clip_skip", r.clip_skip, "an integer");
  read_field(json, "output_dir", r.output_dir, "a string");
  read_field(json, "output_prefix", r.output_prefix, "a string");
  return r;
}

}  // namespace ftdr::framework
