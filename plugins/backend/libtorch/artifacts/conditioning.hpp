// artifacts/conditioning.hpp: the "conditioning" artifact and the encode phase that makes it.
//
// cond = text_encoder(prompt), uncond = text_encoder(negative prompt, "" when empty), each
// [1, T, hidden] at the run dtype, on the device the text encoder ran on. uncond is only computed
// when classifier-free guidance runs (cfg_scale > 1), as diffusers does. The artifact does not
// depend on batch or first_image: denoise repeats it per image.
// T is max_length (77) with prompt_syntax "diffusers"; with "a1111" it is 77 per chunk
// (pipeline/prompt_encoding.hpp), the same for cond and uncond: the one with fewer chunks is
// followed by copies of the empty prompt's chunk, as A1111 pads them.
#pragma once
#include <string>

#include <ATen/ATen.h>

#include "clip/clip_text_model.hpp"
#include "ftdr/sdk/artifact.hpp"
#include "ftdr/sdk/types.hpp"
#include "pipeline/prompt_encoding.hpp"
#include "pipeline/sdxl_prompt_encoding.hpp"
#include "tokenizer/clip_tokenizer.hpp"

namespace ftdr::torchbe {

class ConditioningArtifact final : public sdk::Artifact {
 public:
  static constexpr const char* kKind = "conditioning";

  at::Tensor cond;    // [1, T, D]
  at::Tensor uncond;  // [1, T, D]; undefined when guidance is off
  // SDXL only: text_encoder_2's pooled embeddings [1, P] (uncond_pooled as uncond).
  at::Tensor cond_pooled, uncond_pooled;
  int clip_skip = 0;

  std::string kind() const override { return kKind; }
  std::uint64_t bytes() const override;
  int steps_done() const override { return 0; }
};

// Tokenizes and encodes on the device the text encoder's parameters are on.
std::shared_ptr<ConditioningArtifact> encode_prompts(const CLIPTokenizer& tokenizer,
                                                     CLIPTextModel& text_encoder,
                                                     const sdk::GenerationParams& params,
                                                     const PromptSettings& settings);

// SDXL (pipeline/sdxl_prompt_encoding.hpp): both encoders for cond and uncond, plus the pooled
// embeddings. An empty negative prompt with zero_empty_negative (model_index.json
// force_zeros_for_empty_prompt, diffusers' default for SDXL; A1111 does the same) is zeros, as
// diffusers does when no negative prompt is given.
std::shared_ptr<ConditioningArtifact> encode_prompts_sdxl(const SdxlTextEncoders& encoders,
                                                          const sdk::GenerationParams& params,
                                                          const PromptSettings& settings,
                                                          bool zero_empty_negative);

// Byte size of a tensor's elements (0 when undefined).
std::uint64_t tensor_bytes(const at::Tensor& t);

}  // namespace ftdr::torchbe
