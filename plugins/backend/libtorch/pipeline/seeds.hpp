// pipeline/seeds.hpp: initial latents and sampler noise from seeds, exactly as diffusers draws them with
// CPU torch.Generators (libtorch's CPU generator is PyTorch's, so values are bit-identical).
//
//   NoiseSource noise(seed, first_image, batch);          // one generator per image
//   at::Tensor latents = noise.draw({batch, 4, h, w});    // = diffusers' latents for that seed
//   ... denoise(..., noise, ...)                          // ancestral noise continues each generator
//
// Image i of a request uses seed + i, so an image is identical alone or in a batch, and a sub-batch
// starting at first_image reproduces the same images. Drawing the latents from the NoiseSource and
// then passing it to the denoise loop matches diffusers' single-image pipeline with
// generator=torch.Generator("cpu").manual_seed(seed) and latents=None: the latents and then every
// Euler-ancestral / DDIM-eta draw come from the same generator, in that order.
// Draws are float32 on the CPU; move them to the device afterwards.
#pragma once
#include <ATen/ATen.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace ftdr::torchbe {

// randn([1, channels, h, w]) per image from a fresh CPU generator seeded seed + i, for
// i = first_image .. first_image + batch - 1, concatenated -> [batch, channels, h, w] float32 CPU.
at::Tensor initial_latents(uint64_t seed, int first_image, int batch, int channels, int h, int w);

class NoiseSource {
 public:
  NoiseSource(uint64_t seed, int first_image, int batch);

  // shape[0] must equal batch(): one randn(shape with dim 0 = 1) per image, concatenated.
  at::Tensor draw(at::IntArrayRef shape);
  int batch() const { return static_cast<int>(generators_.size()); }

  // Generator states ("generator.<k>", uint8 tensors) for checkpoints; load_state restores them
  // (sdk::Error(internal) when an entry is missing or malformed).
  std::vector<std::pair<std::string, at::Tensor>> state() const;
  void load_state(const std::vector<std::pair<std::string, at::Tensor>>& state);

 private:
  std::vector<at::Generator> generators_;
};

}  // namespace ftdr::torchbe
