// tokenizer/prompt_chunks.cpp: A1111's prompt chunking (Ref: modules/sd_hijack_clip.py, tokenize_line,
// next_chunk, process_tokens; textual-inversion embeddings are not supported, so none are looked up).
#include "tokenizer/prompt_chunks.hpp"

#include <algorithm>
#include <utility>

namespace ftdr::torchbe {
namespace {

class ChunkBuilder {
 public:
  ChunkBuilder(const CLIPTokenizer& tokenizer, int comma_backtrack)
      : tok_(tokenizer),
        length_(static_cast<std::size_t>(std::max(1, tokenizer.max_length() - 2))),
        backtrack_(comma_backtrack),
        comma_(tokenizer.token_id(",</w>")) {}

  void add(const PromptRun& run) {
    if (run.is_break()) return next_chunk();
    for (int64_t token : tok_.tokenize(run.text)) add_token(token, run.weight);
  }

  std::vector<PromptChunk> finish() {
    if (!chunk_.tokens.empty() || chunks_.empty()) next_chunk();
    return std::move(chunks_);
  }

 private:
  void add_token(int64_t token, double weight) {
    const std::size_t size = chunk_.tokens.size();
    if (token == comma_) {
      last_comma_ = static_cast<long>(size);
    } else if (backtrack_ != 0 && size == length_ && last_comma_ != -1 &&
               static_cast<long>(size) - last_comma_ <= backtrack_) {
      move_after_last_comma();
    }
    if (chunk_.tokens.size() == length_) next_chunk();
    chunk_.tokens.push_back(token);
    chunk_.multipliers.push_back(weight);
  }

  // The words after the chunk's last comma start the next chunk instead of being cut in two.
  void move_after_last_comma() {
    const auto cut = static_cast<std::ptrdiff_t>(last_comma_ + 1);
    PromptChunk moved;
    moved.tokens.assign(chunk_.tokens.begin() + cut, chunk_.tokens.end());
    moved.multipliers.assign(chunk_.multipliers.begin() + cut, chunk_.multipliers.end());
    chunk_.tokens.resize(static_cast<std::size_t>(cut));
    chunk_.multipliers.resize(static_cast<std::size_t>(cut));
    next_chunk();
    chunk_ = std::move(moved);
  }

  // Pads with eos to L, wraps in bos ... eos, and starts an empty chunk.
  void next_chunk() {
    PromptChunk done;
    done.tokens.reserve(length_ + 2);
    done.tokens.push_back(tok_.bos_id());
    done.tokens.insert(done.tokens.end(), chunk_.tokens.begin(), chunk_.tokens.end());
    done.tokens.resize(length_ + 1, tok_.eos_id());
    done.tokens.push_back(tok_.eos_id());
    done.multipliers.push_back(1.0);
    done.multipliers.insert(done.multipliers.end(), chunk_.multipliers.begin(), chunk_.multipliers.end());
    done.multipliers.resize(length_ + 2, 1.0);
    chunks_.push_back(std::move(done));
    chunk_ = PromptChunk{};
    last_comma_ = -1;
  }

  const CLIPTokenizer& tok_;
  const std::size_t length_;
  const int backtrack_;
  const int64_t comma_;  // -1 when the vocabulary has no ",</w>"
  PromptChunk chunk_;    // tokens without bos/eos while it fills
  long last_comma_ = -1;
  std::vector<PromptChunk> chunks_;
};

}  // namespace

std::vector<PromptChunk> chunk_prompt(const CLIPTokenizer& tokenizer, const std::vector<PromptRun>& runs,
                                      int comma_backtrack) {
  ChunkBuilder builder(tokenizer, comma_backtrack);
  for (const PromptRun& run : runs) builder.add(run);
  return builder.finish();
}

std::vector<int64_t> encoder_ids(const PromptChunk& chunk, const CLIPTokenizer& tokenizer) {
  std::vector<int64_t> ids = chunk.tokens;
  if (tokenizer.pad_id() == tokenizer.eos_id()) return ids;
  auto first_eos = std::find(ids.begin(), ids.end(), tokenizer.eos_id());
  if (first_eos != ids.end()) std::fill(first_eos + 1, ids.end(), tokenizer.pad_id());
  return ids;
}

}  // namespace ftdr::torchbe
