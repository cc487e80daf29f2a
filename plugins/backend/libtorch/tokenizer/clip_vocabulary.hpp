// tokenizer/clip_vocabulary.hpp: the standard CLIP BPE vocabulary, built into the plugin.
//
//   std::string_view vocab = clip_vocab_json();   // tokenizer/data/vocab.json (49408 entries)
//
// The files are tokenizer/data/{vocab.json, merges.txt} (OpenAI CLIP, MIT licence:
// tokenizer/data/LICENSE-CLIP.txt), assembled into the object file with .incbin, so a single-file
// checkpoint loads without a tokenizer folder and without looking for data files at run time.
#pragma once
#include <string_view>

namespace ftdr::torchbe {

std::string_view clip_vocab_json();
std::string_view clip_merges_txt();

}  // namespace ftdr::torchbe
