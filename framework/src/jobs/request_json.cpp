// GenerationRequest <-> JSON (see request_json.hpp).
#include "ftdr/framework/jobs/request_json.hpp"

#include <charconv>
#include <climits>
#include <cmath>
#include <cstdint>

#include "ftdr/sdk/error.hpp"

namespace ftdr::framework {
namespace {

[[noreturn]] void wrong_type(const char* key, const nlohmann::json& value, const std::string& expected) {
  throw sdk::Error(sdk::ErrorKind::invalid_request, std::string("request field '") + key + "': expected " +
                                                        expected + " (got " + value.type_name() + ")");
}

// Each field takes exactly its JSON type: nlohmann's get<int>() would also take true, 1.5 (as 1), a
// float beyond int (undefined behaviour) or 2^32 + 20 (as 20), and get<uint64_t>() -1 (as 2^64 - 1).
void read_field(const nlohmann::json& json, const char* key, std::string& out) {
  auto it = json.find(key);
  if (it == json.end()) return;
  if (!it->is_string()) wrong_type(key, *it, "a string");
  out = it->get<std::string>();
}

void read_field(const nlohmann::json& json, const char* key, int& out) {
  auto it = json.find(key);
  if (it == json.end()) return;
  if (!it->is_number_integer()) wrong_type(key, *it, "an integer");
  const std::int64_t value = it->get<std::int64_t>();  // 2^64 - 1 wraps to -1: hence the unsigned test
  if ((it->is_number_unsigned() && it->get<std::uint64_t>() > INT_MAX) || value < INT_MIN || value > INT_MAX)
    throw sdk::Error(sdk::ErrorKind::invalid_request,
                     std::string("request field '") + key + "': expected an integer in [" +
                         std::to_string(INT_MIN) + ", " + std::to_string(INT_MAX) + "], got " + it->dump());
  out = it->get<int>();
}

void read_field(const nlohmann::json& json, const char* key, std::uint64_t& out) {
  auto it = json.find(key);
  if (it == json.end()) return;
  if (!it->is_number_unsigned()) wrong_type(key, *it, "an unsigned integer");
  out = it->get<std::uint64_t>();
}

void read_field(const nlohmann::json& json, const char* key, double& out) {
  auto it = json.find(key);
  if (it == json.end()) return;
  if (!it->is_number()) wrong_type(key, *it, "a number");
  out = it->get<double>();
}

[[noreturn]] void bad_lora(const std::string& field, const std::string& what) {
  throw sdk::Error(sdk::ErrorKind::invalid_request, "request field '" + field + "': " + what);
}

// The shortest text that reads back as the same double ("0.8", not "0.80000000000000004").
std::string shortest(double value) {
  char buf[64];
  const auto end = std::to_chars(buf, buf + sizeof buf, value).ptr;
  return std::string(buf, end);
}

std::string lora_tag(const nlohmann::json& item, std::size_t i) {
  const std::string at = "loras[" + std::to_string(i) + "]";
  if (!item.is_object())
    bad_lora(
        at, std::string("expected an object {\"name\": ..., \"scale\": ...} (got ") + item.type_name() + ")");
  for (auto it = item.begin(); it != item.end(); ++it)
    if (it.key() != "name" && it.key() != "scale")
      bad_lora(at, "unknown key '" + it.key() + "' (expected \"name\" and \"scale\")");
  auto name = item.find("name");
  if (name == item.end() || !name->is_string())
    bad_lora(at + ".name", "expected a string (the LoRA's file name)");
  const std::string text = name->get<std::string>();
  if (text.empty() || text.find_first_of("/\\:<>=") != std::string::npos ||
      text.find("..") != std::string::npos)
    bad_lora(at + ".name",
             "\"" + text +
                 "\" must be a file name in the LoRA folder, without \".safetensors\" (not empty; no "
                 "'/', '\\', '..', ':', '<', '>', '=')");
  double scale = 1.0;
  if (auto s = item.find("scale"); s != item.end()) {
    if (!s->is_number())
      bad_lora(at + ".scale", std::string("expected a number (got ") + s->type_name() + ")");
    scale = s->get<double>();
  }
  return "<lora:" + text + ":" + shortest(scale) + ">";
}

// "loras": [{"name": "ink", "scale": 0.8}] becomes " <lora:ink:0.8>" at the end of the prompt:
// GenerationRequest has no field for it (adding one is an SDK ABI major bump), and the backend reads
// A1111's tags (the libtorch backend: lora/lora_tags.hpp).
void read_loras(const nlohmann::json& json, std::string& prompt) {
  auto it = json.find("loras");
  if (it == json.end()) return;
  if (!it->is_array()) wrong_type("loras", *it, "an array of {\"name\": ..., \"scale\": ...} objects");
  for (std::size_t i = 0; i < it->size(); ++i) prompt += " " + lora_tag((*it)[i], i);
}

}  // namespace

nlohmann::json request_json(const sdk::GenerationRequest& r) {
  return nlohmann::json{{"prompt", r.prompt},
                        {"negative_prompt", r.negative_prompt},
                        {"width", r.width},
                        {"height", r.height},
                        {"steps", r.steps},
                        {"cfg_scale", r.cfg_scale},
                        {"sampler", r.sampler},
                        {"seed", r.seed},
                        {"batch", r.batch},
                        {"eta", r.eta},
                        {"clip_skip", r.clip_skip},
                        {"output_dir", r.output_dir},
                        {"output_prefix", r.output_prefix}};
}

sdk::GenerationRequest request_from_json(const nlohmann::json& json) {
  if (!json.is_object())
    throw sdk::Error(sdk::ErrorKind::invalid_request,
                     std::string("request: expected a JSON object (got ") + json.type_name() + ")");
  const nlohmann::json known = request_json({});
  for (auto it = json.begin(); it != json.end(); ++it)
    if (!known.contains(it.key()) && it.key() != "loras")
      throw sdk::Error(sdk::ErrorKind::invalid_request, "request: unknown field '" + it.key() + "'");
  sdk::GenerationRequest r;
  read_field(json, "prompt", r.prompt);
  read_loras(json, r.prompt);
  read_field(json, "negative_prompt", r.negative_prompt);
  read_field(json, "width", r.width);
  read_field(json, "height", r.height);
  read_field(json, "steps", r.steps);
  read_field(json, "cfg_scale", r.cfg_scale);
  read_field(json, "sampler", r.sampler);
  read_field(json, "seed", r.seed);
  read_field(json, "batch", r.batch);
  read_field(json, "eta", r.eta);
  read_field(json, "clip_skip", r.clip_skip);
  read_field(json, "output_dir", r.output_dir);
  read_field(json, "output_prefix", r.output_prefix);
  return r;
}

}  // namespace ftdr::framework
