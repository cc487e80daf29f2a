// artifacts/conditioning.cpp: see conditioning.hpp.
#include "artifacts/conditioning.hpp"

#include <c10/core/InferenceMode.h>

#include <algorithm>

namespace ftdr::torchbe {

std::uint64_t tensor_bytes(const at::Tensor& t) {
  return t.defined() ? static_cast<std::uint64_t>(t.numel()) * t.element_size() : 0;
}

std::uint64_t ConditioningArtifact::bytes() const { return tensor_bytes(cond) + tensor_bytes(uncond); }

namespace {

// A1111 (pad_cond) fills the shorter of prompt and negative prompt with the empty prompt's
// encoding (one chunk) so both make one UNet batch; diffusers' prompts are always one chunk.
void pad_to_same_length(ConditioningArtifact& c, const CLIPTokenizer& tokenizer, CLIPTextModel& text_encoder,
                        const PromptSettings& settings) {
  const int64_t length = std::max(c.cond.size(1), c.uncond.size(1));
  if (c.cond.size(1) == length && c.uncond.size(1) == length) return;
  const at::Tensor empty = encode_prompt(tokenizer, text_encoder, "", settings, c.clip_skip, "empty prompt");
  c.cond = pad_with_empty(c.cond, length, empty);
  c.uncond = pad_with_empty(c.uncond, length, empty);
}

}  // namespace

std::shared_ptr<ConditioningArtifact> encode_prompts(const CLIPTokenizer& tokenizer,
                                                     CLIPTextModel& text_encoder,
                                                     const sdk::GenerationParams& params,
                                                     const PromptSettings& settings) {
  c10::InferenceMode inference;  // no autograd bookkeeping (version counters, views) per op
  auto out = std::make_shared<ConditioningArtifact>();
  out->clip_skip = params.request.clip_skip;
  const auto& r = params.request;
  out->cond = encode_prompt(tokenizer, text_encoder, r.prompt, settings, out->clip_skip, "prompt");
  if (r.cfg_scale > 1.0) {
    const int skip = out->clip_skip;
    out->uncond =
        encode_prompt(tokenizer, text_encoder, r.negative_prompt, settings, skip, "negative_prompt");
    pad_to_same_length(*out, tokenizer, text_encoder, settings);
  }
  return out;
}

}  // namespace ftdr::torchbe
