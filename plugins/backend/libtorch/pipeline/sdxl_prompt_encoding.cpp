// pipeline/sdxl_prompt_encoding.cpp: see sdxl_prompt_encoding.hpp (Ref: diffusers 0.31
// pipelines/stable_diffusion_xl/pipeline_stable_diffusion_xl.py encode_prompt; A1111
// modules/sd_hijack_clip.py, modules/sd_models_xl.py).
#include "pipeline/sdxl_prompt_encoding.hpp"

#include <algorithm>
#include <vector>

#include "ftdr/sdk/error.hpp"
#include "tokenizer/prompt_chunks.hpp"
#include "tokenizer/prompt_weights.hpp"

namespace ftdr::torchbe {
namespace {

// The hidden state SDXL conditions on: hidden_states[L - max(clip_skip, 1)].
int64_t conditioning_layer(const CLIPTextModelImpl& encoder, int clip_skip) {
  const int64_t layers = encoder.config().num_hidden_layers;
  const int64_t back = std::max(clip_skip, 1);
  if (back >= layers)
    throw sdk::Error(sdk::ErrorKind::invalid_request, "clip_skip " + std::to_string(clip_skip) +
                                                          ": the text encoder has only " +
                                                          std::to_string(layers) + " layers");
  return layers - back;
}

at::Tensor ids_tensor(const std::vector<int64_t>& ids, CLIPTextModelImpl& encoder) {
  return at::tensor(ids, at::kLong).unsqueeze(0).to(encoder.parameters().front().device());
}

// One sequence of ids through both encoders: {conditioning of encoder 1, of encoder 2, pooled}.
struct Encoded {
  at::Tensor first, second, pooled;
};

Encoded encode_ids(const SdxlTextEncoders& e, const std::vector<int64_t>& ids_1,
                   const std::vector<int64_t>& ids_2, int clip_skip) {
  Encoded out;
  out.first = e.text_encoder->hidden_state(ids_tensor(ids_1, *e.text_encoder),
                                           conditioning_layer(*e.text_encoder, clip_skip));
  const at::Tensor ids = ids_tensor(ids_2, *e.text_encoder_2);
  const std::vector<at::Tensor> states = e.text_encoder_2->hidden_states(ids);
  out.second = states.at(static_cast<size_t>(conditioning_layer(*e.text_encoder_2, clip_skip)));
  out.pooled = e.text_encoder_2->project_last_layer(states.back(), ids);
  return out;
}

at::Tensor join(const at::Tensor& first, const at::Tensor& second) {
  return at::cat({first.to(second.device()), second}, -1);
}

SdxlEmbeddings encode_a1111(const SdxlTextEncoders& e, const std::string& text,
                            const PromptSettings& settings, int clip_skip, const std::string& field) {
  const std::vector<PromptRun> runs = parse_prompt_attention(text, field);
  const std::vector<PromptChunk> chunks_1 = chunk_prompt(e.tokenizer, runs, settings.comma_backtrack);
  const std::vector<PromptChunk> chunks_2 = chunk_prompt(e.tokenizer_2, runs, settings.comma_backtrack);
  if (chunks_1.size() != chunks_2.size())
    throw sdk::Error(sdk::ErrorKind::model_error, "SDXL tokenizers: tokenizer and tokenizer_2 split the " +
                                                      field + " into " + std::to_string(chunks_1.size()) +
                                                      " and " + std::to_string(chunks_2.size()) +
                                                      " chunks (their vocabularies differ)");
  std::vector<at::Tensor> zs;
  SdxlEmbeddings out;
  for (size_t i = 0; i < chunks_1.size(); ++i) {
    const Encoded enc = encode_ids(e, encoder_ids(chunks_1[i], e.tokenizer),
                                   encoder_ids(chunks_2[i], e.tokenizer_2), clip_skip);
    zs.push_back(join(apply_emphasis(enc.first, chunks_1[i].multipliers),
                      apply_emphasis(enc.second, chunks_2[i].multipliers)));
    if (i == 0) out.pooled = enc.pooled;
  }
  out.embeddings = zs.size() == 1 ? zs.front() : at::cat(zs, 1);
  return out;
}

}  // namespace

SdxlEmbeddings encode_prompt_sdxl(const SdxlTextEncoders& encoders, const std::string& text,
                                  const PromptSettings& settings, int clip_skip, const std::string& field) {
  if (settings.syntax == PromptSyntax::a1111) return encode_a1111(encoders, text, settings, clip_skip, field);
  const Encoded enc =
      encode_ids(encoders, encoders.tokenizer.encode(text), encoders.tokenizer_2.encode(text), clip_skip);
  return {join(enc.first, enc.second), enc.pooled};
}

}  // namespace ftdr::torchbe
