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
// Without a model (the config's [generate] values, `ftdr generate`'s flags before the model is
// loaded) a width or height of 0 is accepted: it means the model's default size, which
// with_model_size() puts in once the model is known. With a model, 0 is refused: a request reaches
// the JobManager with its sizes filled in.
void validate_request(const sdk::GenerationRequest& request, const sdk::ModelInfo* model = nullptr,
                      const std::vector<std::string>* samplers = nullptr);

// The request with each side of 0 replaced by the model's default size (ModelInfo::default_size: 1024
// for SDXL base, 512 for SD 1.x); other sides unchanged.
sdk::GenerationRequest with_model_size(sdk::GenerationRequest request, const sdk::ModelInfo& model);

// The parameters of a first attempt: the request as asked, the whole batch, default options.
sdk::GenerationParams initial_params(const sdk::GenerationRequest& request,
                                     const sdk::RuntimeOptions& options = {});

}  // namespace ftdr::framework
