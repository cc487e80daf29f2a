// artifacts/model_identity.hpp: the fingerprint a latents checkpoint keeps of the model that made it.
//
// A checkpoint may only be continued by the model that wrote it: another model, the same folder
// with other weights, configs or tokenizer, or other weights dtype give other latents. The identity
// is a digest of the model folder's canonical path, the weights' dtype, and the size and
// modification time of every file the backend reads from the folder (model_index.json, the three
// components' config.json and weights, the scheduler config, the tokenizer files). Sizes and times,
// not contents: hashing gigabytes of weights at every load would cost seconds.
#pragma once
#include <string>

#include "ftdr/sdk/types.hpp"
#include "io/model_folder.hpp"

namespace ftdr::torchbe {

std::string model_identity(const ModelFolder& folder, sdk::DType dtype);

// FNV-1a, 64 bits, as 16 hex digits: a fingerprint against accidents (another request, another
// process's file), not against someone forging checkpoints.
std::string digest_hex(const std::string& text);

}  // namespace ftdr::torchbe
