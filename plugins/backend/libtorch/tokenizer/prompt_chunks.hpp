// tokenizer/prompt_chunks.hpp: (text, weight) runs -> 77-id chunks with one weight per id, as
// AUTOMATIC1111 cuts long prompts (Ref: modules/sd_hijack_clip.py,
// FrozenCLIPEmbedderWithCustomWordsBase.tokenize_line, empty_chunk and process_tokens).
//
//   auto chunks = chunk_prompt(tokenizer, parse_prompt_attention(text, "prompt"), 20);
//   for (auto& c : chunks) encode(encoder_ids(c, tokenizer)), weighted by c.multipliers
//
// Each run is tokenized on its own (no bos/eos, no truncation). Tokens fill chunks of
// L = max_length - 2 (75 for CLIP); a full chunk is closed before the next token goes in. When
// the token that does not fit is not a comma and a comma sits among the chunk's last
// `comma_backtrack` tokens, the tokens after that comma move to the next chunk (A1111's
// "comma_padding_backtrack", default 20; 0 = never). A BREAK run closes the chunk at once (an
// empty chunk too). A chunk is [bos] + tokens + eos up to L + [eos], weights 1.0 outside the
// tokens. At least one chunk always comes back (the empty prompt's).
#pragma once
#include <cstdint>
#include <vector>

#include "tokenizer/clip_tokenizer.hpp"
#include "tokenizer/prompt_weights.hpp"

namespace ftdr::torchbe {

struct PromptChunk {
  std::vector<int64_t> tokens;      // max_length ids
  std::vector<double> multipliers;  // one per id
};

std::vector<PromptChunk> chunk_prompt(const CLIPTokenizer& tokenizer, const std::vector<PromptRun>& runs,
                                      int comma_backtrack);

// The ids the text encoder gets: when the tokenizer pads with another id than eos (SD 2.x: "!"),
// every id after the chunk's first eos becomes pad_id(), as A1111's process_tokens does.
std::vector<int64_t> encoder_ids(const PromptChunk& chunk, const CLIPTokenizer& tokenizer);

}  // namespace ftdr::torchbe
