// POST /v1/jobs bodies (see api_request.hpp).
#include "api_request.hpp"

#include <nlohmann/json.hpp>

#include "api_error.hpp"
#include "ftdr/framework/jobs/request_json.hpp"
#include "ftdr/framework/jobs/request_validation.hpp"
#include "ftdr/sdk/error.hpp"

namespace ftdr::host::serve {

namespace fw = ftdr::framework;
using nlohmann::json;

namespace {

constexpr const char* kFields[] = {"prompt",    "negative_prompt", "width", "height", "steps",
                                   "cfg_scale", "sampler",         "seed",  "batch",  "eta",
                                   "clip_skip", "priority",        "loras"};

[[noreturn]] void refuse(const std::string& field, const std::string& message) {
  throw ApiError(400, "invalid_request", message, field);
}

[[noreturn]] void refuse_framework(const sdk::Error& e) {
  const std::string message = e.what();
  refuse(field_named_in(message), message);
}

sdk::Priority read_priority(const json& body) {
  auto it = body.find("priority");
  if (it == body.end()) return sdk::Priority::normal;
  if (it->is_string())
    for (auto p : {sdk::Priority::urgent, sdk::Priority::high, sdk::Priority::normal, sdk::Priority::low})
      if (sdk::to_string(p) == it->get<std::string>()) return p;
  refuse("priority", "request field 'priority': expected \"urgent\", \"high\", \"normal\" or \"low\", got " +
                         it->dump(-1, ' ', false, json::error_handler_t::replace));
}

void check_fields(const json& body) {
  std::string known;
  for (const char* f : kFields) known += std::string(known.empty() ? "" : ", ") + f;
  for (auto it = body.begin(); it != body.end(); ++it) {
    bool found = false;
    for (const char* f : kFields) found = found || it.key() == f;
    if (!found) refuse(it.key(), "unknown field '" + it.key() + "' (fields: " + known + ")");
  }
  if (!body.contains("prompt")) refuse("prompt", "request field 'prompt': required");
}

}  // namespace

// The framework's messages name their field first: "request field 'width': expected ...".
std::string field_named_in(const std::string& message) {
  const std::string head = "request field '";
  const auto at = message.find(head);
  if (at == std::string::npos) return {};
  const auto start = at + head.size();
  return message.substr(start, message.find('\'', start) - start);
}

JobRequest parse_job_request(const std::string& text, const sdk::GenerationRequest& defaults,
                             const sdk::ModelInfo& model, const std::vector<std::string>& samplers) {
  json body;
  try {
    body = json::parse(text);
  } catch (const json::exception& e) {  // parse_error, and out_of_range for 1e400
    refuse("", std::string("request body: not valid JSON: ") + e.what());
  }
  if (!body.is_object())
    refuse("", std::string("request body: expected a JSON object, got ") + body.type_name());
  check_fields(body);
  JobRequest out;
  out.priority = read_priority(body);
  json merged = fw::request_json(defaults);
  for (auto it = body.begin(); it != body.end(); ++it)
    if (it.key() != "priority") merged[it.key()] = *it;
  try {
    out.request = fw::with_model_size(fw::request_from_json(merged), model);  // 0 or absent: the model's
    fw::validate_request(out.request, &model, &samplers);
  } catch (const sdk::Error& e) {
    refuse_framework(e);
  }
  return out;
}

}  // namespace ftdr::host::serve
