// hosts/ftdr/serve/api_request.hpp: the body of POST /v1/jobs into a checked request.
//
// The body is a JSON object of a GenerationRequest's fields by their JSON names (request_json.hpp:
// prompt, negative_prompt, width, height, steps, cfg_scale, sampler, seed, batch, eta, clip_skip)
// plus "priority" (urgent, high, normal, low). Absent fields take the config's [generate] values;
// "prompt" is required. A width or height of 0 (given, or the config's) is the model's default
// size (ModelInfo::default_size: 1024 for SDXL). Output folders and file names are the server's:
// "output_dir" and "output_prefix" are unknown fields here. Every refusal is ApiError(400,
// "invalid_request") naming the field: not JSON, not an object, an unknown field, a wrong type, a
// value out of range (the framework's request_validation.hpp, with the model's size multiple and
// the backend's samplers).
#pragma once
#include <string>
#include <vector>

#include "ftdr/sdk/backend.hpp"
#include "ftdr/sdk/scheduler.hpp"
#include "ftdr/sdk/types.hpp"

namespace ftdr::host::serve {

struct JobRequest {
  sdk::GenerationRequest request;
  sdk::Priority priority = sdk::Priority::normal;
};

// The field a framework refusal names ("request field 'width': expected ..." -> "width"); empty
// when the message names none. Both APIs report it in their own error shape.
std::string field_named_in(const std::string& message);

JobRequest parse_job_request(const std::string& body, const sdk::GenerationRequest& defaults,
                             const sdk::ModelInfo& model, const std::vector<std::string>& samplers);

}  // namespace ftdr::host::serve
