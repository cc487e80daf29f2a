// backend/conditioning.cpp: see conditioning.h.
#include "artifacts/conditioning.hpp"

#include <c10/core/InferenceMode.h>

namespace ftdr::torchbe {

std::uint64_t tensor_bytes(const at::Tensor& t) {
  return t.defined() ? static_cast<std::uint64_t>(t.numel()) * t.element_size() : 0;
}

std::uint64_t ConditioningArtifact::bytes() const { return tensor_bytes(cond) + tensor_bytes(uncond); }

namespace {

at::Tensor encode_one(const CLIPTokenizer& tokenizer, CLIPTextModel& text_encoder, const std::string& text,
                      int clip_skip, const at::Device& device) {
  std::vector<int64_t> ids = tokenizer.encode(text);
  at::Tensor input = at::tensor(ids, at::kLong).unsqueeze(0).to(device);
  return text_encoder->forward(input, clip_skip);
}

}  // namespace

std::shared_ptr<ConditioningArtifact> encode_prompts(const CLIPTokenizer& tokenizer,
                                                     CLIPTextModel& text_encoder,
                                                     const sdk::GenerationParams& params) {
  c10::InferenceMode inference;  // no autograd bookkeeping (version counters, views) per op
  const at::Device device = text_encoder->parameters().front().device();
  auto out = std::make_shared<ConditioningArtifact>();
  out->clip_skip = params.request.clip_skip;
  out->cond = encode_one(tokenizer, text_encoder, params.request.prompt, out->clip_skip, device);
  if (params.request.cfg_scale > 1.0)
    out->uncond = encode_one(tokenizer, text_encoder, params.request.negative_prompt, out->clip_skip, device);
  return out;
}

}  // namespace ftdr::torchbe
