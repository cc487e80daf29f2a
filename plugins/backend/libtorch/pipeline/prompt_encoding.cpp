// pipeline/prompt_encoding.cpp: see prompt_encoding.hpp (Ref: AUTOMATIC1111/stable-diffusion-webui
// modules/sd_hijack_clip.py FrozenCLIPEmbedderWithCustomWordsBase.forward / process_tokens,
// modules/sd_emphasis.py EmphasisOriginal, modules/sd_samplers_cfg_denoiser.py pad_cond).
#include "pipeline/prompt_encoding.hpp"

#include <algorithm>

#include "ftdr/sdk/error.hpp"
#include "tokenizer/prompt_chunks.hpp"
#include "tokenizer/prompt_weights.hpp"

namespace ftdr::torchbe {
namespace {

at::Tensor encode_ids(CLIPTextModel& text_encoder, const std::vector<int64_t>& ids, int clip_skip) {
  const at::Device device = text_encoder->parameters().front().device();
  return text_encoder->forward(at::tensor(ids, at::kLong).unsqueeze(0).to(device), clip_skip);
}

// One chunk at a time, as A1111 does: the encoder's memory stays that of one 77-id sequence
// however long the prompt is.
at::Tensor encode_a1111(const CLIPTokenizer& tokenizer, CLIPTextModel& text_encoder, const std::string& text,
                        const PromptSettings& settings, int clip_skip, const std::string& field) {
  const std::vector<PromptChunk> chunks =
      chunk_prompt(tokenizer, parse_prompt_attention(text, field), settings.comma_backtrack);
  std::vector<at::Tensor> zs;
  zs.reserve(chunks.size());
  for (const PromptChunk& chunk : chunks)
    zs.push_back(apply_emphasis(encode_ids(text_encoder, encoder_ids(chunk, tokenizer), clip_skip),
                                chunk.multipliers));
  return zs.size() == 1 ? zs.front() : at::cat(zs, 1);
}

}  // namespace

at::Tensor encode_prompt(const CLIPTokenizer& tokenizer, CLIPTextModel& text_encoder, const std::string& text,
                         const PromptSettings& settings, int clip_skip, const std::string& field) {
  if (settings.syntax == PromptSyntax::a1111)
    return encode_a1111(tokenizer, text_encoder, text, settings, clip_skip, field);
  return encode_ids(text_encoder, tokenizer.encode(text), clip_skip);
}

int64_t context_positions(const CLIPTokenizer& tokenizer, const sdk::GenerationRequest& request,
                          const PromptSettings& settings) {
  const int64_t length = tokenizer.max_length();
  if (settings.syntax != PromptSyntax::a1111) return length;
  std::size_t chunks = 1;
  for (const auto& [text, field] :
       {std::pair{&request.prompt, "prompt"}, {&request.negative_prompt, "negative_prompt"}})
    chunks = std::max(
        chunks,
        chunk_prompt(tokenizer, parse_prompt_attention(*text, field), settings.comma_backtrack).size());
  return length * static_cast<int64_t>(chunks);
}

void check_prompt_syntax(const sdk::GenerationRequest& request, const PromptSettings& settings) {
  if (settings.syntax != PromptSyntax::a1111) return;
  parse_prompt_attention(request.prompt, "prompt");
  parse_prompt_attention(request.negative_prompt, "negative_prompt");
}

at::Tensor apply_emphasis(const at::Tensor& z, const std::vector<double>& multipliers) {
  if (static_cast<int64_t>(multipliers.size()) != z.size(1))
    throw sdk::Error(sdk::ErrorKind::internal, "emphasis: " + std::to_string(multipliers.size()) +
                                                   " weights for " + std::to_string(z.size(1)) +
                                                   " positions");
  // Unweighted chunks skip the arithmetic: z * 1 * (m / m) is z anyway, except when the mean is 0.
  if (std::all_of(multipliers.begin(), multipliers.end(), [](double m) { return m == 1.0; })) return z;
  // A1111 turns the Python floats into a float32 tensor (torch.asarray), so z * weights is float32.
  const at::Tensor weights = at::tensor(multipliers, at::kDouble).to(at::kFloat).to(z.device());
  const at::Tensor zf = z.to(at::kFloat);
  const at::Tensor original_mean = zf.mean();
  const at::Tensor weighted = zf * weights.reshape({1, -1, 1}).expand(zf.sizes());
  const at::Tensor new_mean = weighted.mean();
  return (weighted * (original_mean / new_mean)).to(z.scalar_type());
}

at::Tensor pad_with_empty(const at::Tensor& t, int64_t length, const at::Tensor& empty) {
  const int64_t missing = length - t.size(1);
  if (missing == 0) return t;
  if (missing < 0 || missing % empty.size(1) != 0)
    throw sdk::Error(sdk::ErrorKind::internal, "pad_with_empty: " + std::to_string(t.size(1)) +
                                                   " positions to " + std::to_string(length) +
                                                   " in steps of " + std::to_string(empty.size(1)));
  return at::cat({t, empty.repeat({t.size(0), missing / empty.size(1), 1})}, 1);
}

}  // namespace ftdr::torchbe
