// tools/bpe_learner.hpp: learns a byte-level BPE vocabulary from a caption corpus and writes it in
// the CLIP tokenizer format (vocab.json + merges.txt + tokenizer_config.json +
// special_tokens_map.json), so the backend's CLIPTokenizer reads it exactly like SD's own.
//
//   auto merges = ftdr::demo::learn_bpe(ftdr::demo::caption_corpus(), /*max_merges=*/400);
//   ftdr::demo::write_clip_tokenizer("models/ftdr-shapes/tokenizer", merges);
//
// Pre-tokenisation follows CLIP: lower case, words of letters, single digits, runs of other
// non-space characters; each word's bytes map to GPT-2's byte-to-unicode characters and its last
// symbol gets "</w>". Vocabulary order is CLIP's: 256 byte characters, the same 256 with "</w>",
// one entry per merge, then <|startoftext|> and <|endoftext|>.
#pragma once
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace ftdr::demo {

using Merge = std::pair<std::string, std::string>;

// GPT-2's reversible byte -> printable unicode character map, as UTF-8 strings, in CLIP's
// vocabulary order (printable bytes first). Entry i is {byte value, UTF-8 character}.
std::vector<std::pair<int, std::string>> bytes_to_unicode_ordered();

// CLIP-style pre-tokenisation of one text into words (already lower-cased, byte-mapped).
std::vector<std::string> pretokenize(const std::string& text);

// Merges in order of learning: at each step the most frequent adjacent pair over the corpus's
// words (ties: the lexicographically smallest pair), until no pair is left or max_merges.
std::vector<Merge> learn_bpe(const std::vector<std::string>& corpus, int max_merges);

// The vocabulary (token -> id) that goes with `merges`.
std::vector<std::pair<std::string, int>> clip_vocab(const std::vector<Merge>& merges);

// Writes the four tokenizer files into `dir` (created if needed). Returns the vocabulary size,
// which is the text encoder's vocab_size.
int write_clip_tokenizer(const std::filesystem::path& dir, const std::vector<Merge>& merges);

}  // namespace ftdr::demo
