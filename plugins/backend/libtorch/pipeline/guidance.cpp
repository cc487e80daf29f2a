#include "pipeline/guidance.hpp"

#include <vector>

#include "ftdr/sdk/error.hpp"

namespace ftdr::torchbe {
namespace {

at::Tensor repeat_to_batch(const at::Tensor& e, int64_t batch, const char* what) {
  if (e.size(0) == batch) return e;
  if (e.size(0) == 1) {
    std::vector<int64_t> sizes = e.sizes().vec();
    sizes[0] = batch;
    return e.expand(sizes);
  }
  throw sdk::Error(sdk::ErrorKind::internal, std::string(what) + " embeddings: batch " +
                                                 std::to_string(e.size(0)) + ", expected 1 or " +
                                                 std::to_string(batch));
}

}  // namespace

at::Tensor guidance_embeddings(const at::Tensor& cond, const at::Tensor& uncond, int64_t batch, double cfg) {
  const at::Tensor c = repeat_to_batch(cond, batch, "prompt");
  if (!uses_guidance(cfg)) return c.contiguous();
  return at::cat({repeat_to_batch(uncond, batch, "negative prompt"), c}, 0);
}

at::Tensor guidance_input(const at::Tensor& x, double cfg) {
  return uses_guidance(cfg) ? at::cat({x, x}, 0) : x;
}

// Ref: diffusers StableDiffusionPipeline.__call__ ("perform guidance").
at::Tensor combine_guidance(const at::Tensor& model_output, double cfg) {
  if (!uses_guidance(cfg)) return model_output;
  const auto halves = model_output.chunk(2, 0);
  const at::Tensor& uncond = halves[0];
  const at::Tensor& cond = halves[1];
  return uncond + cfg * (cond - uncond);
}

}  // namespace ftdr::torchbe
