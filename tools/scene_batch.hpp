// tools/scene_batch.hpp: ftdr-shapes samples <-> tensors, and the per-step deterministic batches
// the trainer draws (step k of a run always sees the same batch, so a resumed run is the same run).
#pragma once
#include <ATen/ATen.h>

#include <cstdint>
#include <string>
#include <vector>

#include "shapes_data.hpp"
#include "tokenizer/clip_tokenizer.hpp"

namespace ftdr::demo {

// Samples' images as [B, 3, 64, 64] float32 in [-1, 1].
at::Tensor images_to_tensor(const std::vector<Sample>& samples);
// One image [3, H, W] in [-1, 1] (any float dtype) -> H*W*3 RGB bytes, clamped and rounded.
std::vector<std::uint8_t> tensor_to_rgb(const at::Tensor& image);
// Token ids [B, 77] int64.
at::Tensor encode_captions(const torchbe::CLIPTokenizer& tok, const std::vector<std::string>& captions);

// `batch` training-split samples for step `step` of a run with `seed`.
std::vector<Sample> training_batch(std::uint64_t seed, std::int64_t step, int batch);

// A CPU generator seeded from (seed, step, stream): noise is reproducible per step.
at::Generator step_generator(std::uint64_t seed, std::int64_t step, int stream);

}  // namespace ftdr::demo
