// ftdr/framework/jobs/request_json.hpp: a GenerationRequest as JSON (PNG metadata, job records).
//
// Every field by its member name: {"prompt": ..., "negative_prompt": ..., "width": 512, ...}.
//
//   nlohmann::json j = request_json(request);
//   sdk::GenerationRequest back = request_from_json(j);   // equal to request
#pragma once
#include <nlohmann/json.hpp>

#include "ftdr/sdk/types.hpp"

namespace ftdr::framework {

nlohmann::json request_json(const sdk::GenerationRequest& request);
// Absent fields keep their defaults; a field of the wrong type or an unknown field throws
// sdk::Error(invalid_request) naming it and the type expected.
// "loras": [{"name": "ink", "scale": 0.8}, ...] (scale optional, default 1) is read too: each becomes
// an A1111 tag " <lora:ink:0.8>" appended to the prompt, in order (GenerationRequest keeps its layout;
// the backend reads the tags). request_json() therefore writes no "loras": the prompt carries them.
// Its errors name the item: "request field 'loras[0].name': ...".
sdk::GenerationRequest request_from_json(const nlohmann::json& json);

}  // namespace ftdr::framework
