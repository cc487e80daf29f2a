// artifacts/conditioning.cpp: see conditioning.hpp.
#include "artifacts/conditioning.hpp"

#include <c10/core/InferenceMode.h>

#include <algorithm>

namespace ftdr::torchbe {

std::uint64_t tensor_bytes(const at::Tensor& t) {
  return t.defined() ? static_cast<std::uint64_t>(t.numel()) * t.element_size() : 0;
}

std::uint64_t ConditioningArtifact::bytes() const {
  return tensor_bytes(cond) + tensor_bytes(uncond) + tensor_bytes(cond_pooled) + tensor_bytes(uncond_pooled);
}

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

// A1111's pad_cond for SDXL: the shorter side gets copies of the empty prompt's encoding.
void pad_to_same_length_sdxl(ConditioningArtifact& c, const SdxlTextEncoders& encoders,
                             const PromptSettings& settings) {
  const int64_t length = std::max(c.cond.size(1), c.uncond.size(1));
  if (c.cond.size(1) == length && c.uncond.size(1) == length) return;
  const at::Tensor empty = encode_prompt_sdxl(encoders, "", settings, c.clip_skip, "empty prompt").embeddings;
  c.cond = pad_with_empty(c.cond, length, empty);
  c.uncond = pad_with_empty(c.uncond, length, empty);
}

}  // namespace

std::shared_ptr<ConditioningArtifact> encode_prompts_sdxl(const SdxlTextEncoders& encoders,
                                                          const sdk::GenerationParams& params,
                                                          const PromptSettings& settings,
                                                          bool zero_empty_negative) {
  c10::InferenceMode inference;
  auto out = std::make_shared<ConditioningArtifact>();
  out->clip_skip = params.request.clip_skip;
  const auto& r = params.request;
  SdxlEmbeddings cond = encode_prompt_sdxl(encoders, r.prompt, settings, out->clip_skip, "prompt");
  out->cond = cond.embeddings;
  out->cond_pooled = cond.pooled;
  if (r.cfg_scale <= 1.0) return out;
  if (zero_empty_negative && r.negative_prompt.empty()) {
    out->uncond = at::zeros_like(out->cond);
    out->uncond_pooled = at::zeros_like(out->cond_pooled);
    return out;
  }
  SdxlEmbeddings uncond =
      encode_prompt_sdxl(encoders, r.negative_prompt, settings, out->clip_skip, "negative_prompt");
  out->uncond = uncond.embeddings;
  out->uncond_pooled = uncond.pooled;
  pad_to_same_length_sdxl(*out, encoders, settings);
  return out;
}

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
