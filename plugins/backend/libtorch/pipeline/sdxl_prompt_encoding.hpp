// pipeline/sdxl_prompt_encoding.hpp: prompt text -> SDXL's conditioning (two text encoders).
//
//   SdxlTextEncoders enc{tokenizer, text_encoder, tokenizer_2, text_encoder_2};
//   SdxlEmbeddings e = encode_prompt_sdxl(enc, "a cat", settings, clip_skip, "prompt");
//   // e.embeddings [1, 77, D1 + D2], e.pooled [1, projection_dim]
//
// As diffusers' StableDiffusionXLPipeline.encode_prompt: each tokenizer/encoder pair encodes the text
// on its own; the conditioning is the penultimate layer's output (hidden_states[-2], no
// final_layer_norm) of text_encoder, then of text_encoder_2, concatenated on the feature axis; the
// pooled embedding is text_encoder_2's text_embeds (text_projection of the final-layer-norm'ed eos
// state). clip_skip c >= 2 (A1111's numbering) goes c - 1 layers further back (diffusers'
// clip_skip = c - 1: hidden_states[-(c + 1)]).
// With the a1111 prompt syntax each encoder chunks and weights the text as for SD 1.x/2.x
// (pipeline/prompt_encoding.hpp) on its own, as A1111's two SDXL embedders do; the pooled embedding
// comes from text_encoder_2's first chunk, unweighted (A1111 sd_hijack_clip.py process_tokens).
#pragma once
#include <string>

#include <ATen/ATen.h>

#include "clip/clip_text_model.hpp"
#include "clip/clip_text_model_with_projection.hpp"
#include "pipeline/prompt_encoding.hpp"
#include "tokenizer/clip_tokenizer.hpp"

namespace ftdr::torchbe {

struct SdxlTextEncoders {
  const CLIPTokenizer& tokenizer;
  CLIPTextModel& text_encoder;
  const CLIPTokenizer& tokenizer_2;
  CLIPTextModelWithProjection& text_encoder_2;
};

struct SdxlEmbeddings {
  at::Tensor embeddings;  // [1, T, D1 + D2]
  at::Tensor pooled;      // [1, projection_dim]
};

// On the devices of the encoders' parameters (the result on text_encoder_2's), in their dtype.
SdxlEmbeddings encode_prompt_sdxl(const SdxlTextEncoders& encoders, const std::string& text,
                                  const PromptSettings& settings, int clip_skip, const std::string& field);

}  // namespace ftdr::torchbe
