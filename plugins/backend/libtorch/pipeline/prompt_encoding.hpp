// pipeline/prompt_encoding.hpp: prompt text -> text-encoder hidden states, in diffusers' or A1111's way.
//
//   PromptSettings s{PromptSyntax::a1111, 20};
//   at::Tensor z = encode_prompt(tokenizer, text_encoder, "a (red:1.2) cat", s, clip_skip, "prompt");
//
// diffusers (the default): the text as it is, truncated to max_length ids (77), one [1, 77, D].
// a1111: the emphasis syntax (tokenizer/prompt_weights.hpp) and chunks (tokenizer/prompt_chunks.hpp);
// each chunk goes through the text encoder on its own, its hidden states are multiplied by the
// per-token weights and rescaled so their mean is the unweighted mean (A1111's "Original" emphasis,
// Ref: modules/sd_emphasis.py EmphasisOriginal.after_transformers); the chunks are concatenated
// along the sequence: [1, 77·k, D]. docs/prompts.md has the user-facing rules.
#pragma once
#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "clip/clip_text_model.hpp"
#include "ftdr/sdk/types.hpp"
#include "tokenizer/clip_tokenizer.hpp"

namespace ftdr::torchbe {

enum class PromptSyntax { diffusers, a1111 };

// [backend.libtorch] prompt_syntax and prompt_comma_backtrack (adapter/backend_config.hpp).
struct PromptSettings {
  PromptSyntax syntax = PromptSyntax::diffusers;
  int comma_backtrack = 20;  // A1111's comma_padding_backtrack; 0 = cut chunks anywhere
};

// On the device of the text encoder's parameters, in their dtype. `field` ("prompt",
// "negative_prompt") names the text in syntax errors (sdk::Error invalid_request).
at::Tensor encode_prompt(const CLIPTokenizer& tokenizer, CLIPTextModel& text_encoder, const std::string& text,
                         const PromptSettings& settings, int clip_skip, const std::string& field);

// The positions of the text embeddings the UNet attends to for this request: max_length (77) with
// the diffusers syntax; 77 per chunk of the longer of prompt and negative prompt with a1111 (the
// shorter is padded to it). For the memory estimate: cross-attention scores grow with it.
int64_t context_positions(const CLIPTokenizer& tokenizer, const sdk::GenerationRequest& request,
                          const PromptSettings& settings);

// Parses prompt and negative prompt under settings.syntax, for validate(): the errors encode would give.
void check_prompt_syntax(const sdk::GenerationRequest& request, const PromptSettings& settings);

// z [B, T, D] times the weights [T] per position, then times mean(z) / mean(weighted z); computed
// in float32 and returned in z's dtype. All weights 1 returns z as it is.
at::Tensor apply_emphasis(const at::Tensor& z, const std::vector<double>& multipliers);

// t [1, T, D] followed by copies of `empty` [1, E, D] up to `length` positions (A1111's pad_cond for
// a prompt and negative prompt of different chunk counts). length - T must be a multiple of E.
at::Tensor pad_with_empty(const at::Tensor& t, int64_t length, const at::Tensor& empty);

}  // namespace ftdr::torchbe
