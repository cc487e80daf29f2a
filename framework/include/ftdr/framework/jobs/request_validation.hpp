// ftdr/framework/jobs/request_validation.hpp: checks a GenerationRequest before it is queued.
//
// JobManager::submit calls validate_request() so a bad request is refused with a clear message and
// never queued. The checks need no backend call (backends are called from one worker at a time):
// field ranges, and with what the engine cached from the backend, sizes the VAE can take
// (ModelInfo) and the sampler name (ModelBackend::samplers(): the backend owns its sampler names;
// "default" is always accepted). The engine still calls ModelBackend::validate() during
// INITIALIZING for model-specific limits, and for sampler names when the backend lists none.
//
//   validate_request(req, &engine.model_info(), &engine.samplers());   // throws sdk::Error(invalid_request,
//   ...)
#pragma once
#include <string>
#include <vector>

#include "ftdr/sdk/backend.hpp"
#include "ftdr/sdk/types.hpp"

namespace ftdr::framework {

// Throws sdk::Error(invalid_request) naming the first bad field and what was expected. `samplers`
// (null or empty: not checked) are the backend's names; "default" is accepted besides them.
void validate_request(const sdk::GenerationRequest& request, const sdk::ModelInfo* model = nullptr,
                      const std::vector<std::string>* samplers = nullptr);

// The parameters of a first attempt: the request as asked, the whole batch, default options.
sdk::GenerationParams initial_params(const sdk::GenerationRequest& request,
                                     const sdk::RuntimeOptions& options = {});

}  // namespace ftdr::framework
