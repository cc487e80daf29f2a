// ftdr/sdk/artifact.hpp: an opaque piece of intermediate work (conditioning, latents).
//
// Only the backend touches tensors. What one phase produces and the next consumes crosses the
// boundary as an Artifact the host cannot look inside; the host only holds it, asks its size, and
// asks the backend that made it to save it to or load it from disk (checkpoints). A latents artifact
// carries whatever the sampler needs to resume exactly (step index, multistep history, RNG state).
// The host calls the three getters directly (no guard): they must not throw.
#pragma once
#include <cstdint>
#include <memory>
#include <string>

namespace ftdr::sdk {

class Artifact {
 public:
  virtual ~Artifact() = default;
  virtual std::string kind() const = 0;     // "conditioning" or "latents"
  virtual std::uint64_t bytes() const = 0;  // memory held, for accounting
  // For latents: denoising steps already applied (0 = fresh noise); 0 for other kinds.
  virtual int steps_done() const = 0;
};

using ArtifactPtr = std::shared_ptr<Artifact>;

}  // namespace ftdr::sdk
