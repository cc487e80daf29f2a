// nn/empty_weights.hpp: layers built without initialising their parameters, for weights about to be
// loaded (accelerate's init_empty_weights, in C++).
//
// libtorch's layers fill every parameter with a random init at float32 when they are built. For a
// model whose weights come from a file that init is wasted work and, worse, memory: an SDXL UNet
// built at float32 is twice its float16 weights, all of it written (resident) before the first
// tensor is read, so loading peaked at 2x the weights and spent most of its time in the RNG. Inside
// an EmptyWeights scope the layers of nn/ (Linear, Conv2d, GroupNorm, LayerNorm, Embedding)
// allocate their parameters uninitialised at the scope's dtype instead; the loader then replaces
// each one by the file's tensor, so memory grows by one tensor at a time.
//
//   {
//     EmptyWeights empty(at::kHalf);
//     unet = UNet2DConditionModel(config);       // nothing written, nothing resident yet
//   }
//   load_module_weights(*unet, source, at::kHalf);
//
// Outside a scope (tests, the demo-model trainer) layers initialise exactly as libtorch's do.
// The scope is per thread, and nests (the innermost dtype wins).
#pragma once
#include <ATen/ATen.h>

#include <functional>
#include <optional>

namespace ftdr::torchbe {

class EmptyWeights {
 public:
  explicit EmptyWeights(at::ScalarType dtype);
  ~EmptyWeights();
  EmptyWeights(const EmptyWeights&) = delete;
  EmptyWeights& operator=(const EmptyWeights&) = delete;

 private:
  std::optional<at::ScalarType> outer_;
};

// The dtype of the innermost EmptyWeights scope on this thread, if any.
std::optional<at::ScalarType> empty_weights_dtype();

// A new parameter tensor of `shape`: inside an EmptyWeights scope uninitialised at its dtype,
// otherwise float32 filled by `init` (run without autograd).
at::Tensor new_parameter(at::IntArrayRef shape, const std::function<void(at::Tensor&)>& init);

}  // namespace ftdr::torchbe
