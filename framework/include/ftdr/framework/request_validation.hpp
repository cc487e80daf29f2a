// ftdr/framework/request_validation.hpp: checks a GenerationRequest before it is queued.
//
// JobManager::submit calls validate_request() so a bad request is refused with a clear message and
// never queued. The checks need no backend call (backends are called from one worker at a time):
// field ranges, the sampler name, and — with the model's ModelInfo — sizes that the VAE can take.
// The engine still calls ModelBackend::validate() during INITIALIZING for model-specific limits.
//
//   validate_request(req, &info);   // throws sdk::Error(invalid_request, "width: expected ...")
#pragma once
#include <string>
#include <vector>

#include "ftdr/sdk/backend.hpp"
#include "ftdr/sdk/types.hpp"

namespace ftdr::framework {

// Sampler names a request may use ("default" = the model's own scheduler).
const std::vector<std::string>& known_samplers();

// Throws sdk::Error(invalid_request) naming the first bad field and what was expected.
void validate_request(const sdk::GenerationRequest& request, const sdk::ModelInfo* model = nullptr);

// The parameters of a first attempt: the request as asked, the whole batch, default options.
sdk::GenerationParams initial_params(const sdk::GenerationRequest& request,
                                     const sdk::RuntimeOptions& options = {});

}  // namespace ftdr::framework
