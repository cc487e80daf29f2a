// artifacts/artifact_io.hpp: checkpoints: both artifact kinds to and from one .safetensors file.
//
// Tensors are written as they are (float32/f16/bf16/int64), moved to the CPU; CPU generator states
// (uint8) are packed 8 bytes per int64 element with their byte length in the metadata, since the
// format's writer takes no U8. Everything else — kind, steps, run identity, the order and names of
// the sampler state entries — is one JSON document in __metadata__["ftdr"]. Loading gives back
// bit-identical tensors on the CPU; the backend moves them to the device when it uses them.
// Files written by something else, or of an unknown kind, are sdk::Error(model_error) naming the path.
#pragma once
#include <string>

#include "ftdr/sdk/artifact.hpp"

namespace ftdr::torchbe {

// Throws sdk::Error(invalid_request) when the artifact was not made by this backend.
void save_artifact_file(const sdk::Artifact& artifact, const std::string& path);
sdk::ArtifactPtr load_artifact_file(const std::string& path);

}  // namespace ftdr::torchbe
