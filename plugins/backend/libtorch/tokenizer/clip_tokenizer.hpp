// tokenizer/clip_tokenizer.hpp: the CLIP BPE tokenizer, id-for-id equal to transformers' CLIPTokenizer.
//
//   auto tok = CLIPTokenizer::from_folder(folder.tokenizer_dir);
//   std::vector<int64_t> ids = tok.encode("a photo of a cat");  // 77 ids: 49406 320 1125 ... pad
//
// Special tokens (bos, eos, unk, pad as the folder names them) are first cut out of the raw text and
// map to their ids directly, as transformers' slow tokenizer does; the rest is normalised as
// whitespace_clean(text).lower() (runs of whitespace -> one space, stripped;
// Unicode lower case), split with CLIP's pattern
//   <|startoftext|>|<|endoftext|>|'s|'t|'re|'ve|'m|'ll|'d|\p{L}+|\p{N}|[^\s\p{L}\p{N}]+
// then each piece is UTF-8 bytes -> GPT-2 byte-to-unicode chars -> BPE merges by rank with "</w>"
// on the last symbol -> vocab ids. ftfy.fix_text (which transformers applies when ftfy is installed)
// is not reproduced: it only repairs mojibake and changes none of the reference prompts.
// ftfy also NFC-composes text; decomposed accents are therefore not composed here (none of the reference
// prompts has any). Letter/number/space classes and lower case come from code point tables generated
// from Python's unicodedata, Unicode 14.0 (tokenizer/unicode_classes.hpp).
// Invalid UTF-8 bytes are replaced by U+FFFD. The object is immutable after from_folder(): encode()
// may be called from several threads.
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace ftdr::torchbe {

// The texts of a tokenizer folder; the paths only name them in messages.
struct TokenizerTexts {
  std::string vocab_json, merges_txt;
  nlohmann::json special_tokens_map, tokenizer_config;  // null or {} when absent
  std::filesystem::path vocab_file, merges_file, map_file, config_file;
};

class CLIPTokenizer {
 public:
  // The same from texts already read.
  static CLIPTokenizer from_texts(const TokenizerTexts& texts);
  // The standard CLIP BPE vocabulary built into the plugin (tokenizer/clip_vocabulary.hpp): SD 1.x
  // pads with <|endoftext|>, SD 2.x (stabilityai's tokenizer, as OpenCLIP) with "!" (id 0).
  static CLIPTokenizer standard(bool pad_with_exclamation);
  // Reads vocab.json, merges.txt, and special tokens from special_tokens_map.json /
  // tokenizer_config.json (bos, eos, pad, model_max_length). model_error naming the file when missing
  // or malformed.
  static CLIPTokenizer from_folder(const std::filesystem::path& dir);

  // max_length() ids: bos + tokens + eos, truncated to keep eos last, padded with pad_id().
  std::vector<int64_t> encode(const std::string& text) const;
  // bos + tokens + eos, truncated like encode() but not padded (transformers' ids without padding).
  std::vector<int64_t> encode_unpadded(const std::string& text) const;
  // The BPE tokens of the text alone (no bos/eos).
  std::vector<int64_t> tokenize(const std::string& text) const;

  int64_t pad_id() const { return pad_id_; }
  int64_t bos_id() const { return bos_id_; }
  int64_t eos_id() const { return eos_id_; }
  int64_t unk_id() const { return unk_id_; }
  int max_length() const { return max_length_; }
  int64_t max_id() const { return max_id_; }  // the largest id in vocab.json
  // The id of a vocab.json entry (e.g. ",</w>"), -1 when absent.
  int64_t token_id(const std::string& token) const {
    auto it = vocab_.find(token);
    return it == vocab_.end() ? -1 : it->second;
  }

 private:
  std::vector<std::string> bpe(const std::string& word) const;
  void tokenize_segment(const std::string& text, std::vector<int64_t>& ids) const;

  // bos/eos/unk/pad contents and ids, longest first: split out of the raw text before anything else,
  // as transformers' added-tokens trie does (so SD 2.x's pad token "!" is its own token, id 0).
  std::vector<std::pair<std::string, int64_t>> special_tokens_;

  std::unordered_map<std::string, int64_t> vocab_;
  std::unordered_map<std::string, int> merge_ranks_;  // "first second" -> rank
  std::vector<std::string> byte_to_unicode_;          // byte -> UTF-8 of its GPT-2 stand-in char
  int64_t bos_id_ = 49406, eos_id_ = 49407, pad_id_ = 49407, unk_id_ = 49407;
  int max_length_ = 77;
  int64_t max_id_ = 0;
};

}  // namespace ftdr::torchbe
