// tokenizer/clip_vocabulary.cpp: the data files as read-only bytes (FTDR_CLIP_DATA_DIR is set by
// plugins/backend/libtorch/CMakeLists.txt, which also makes this file depend on them).
#include "tokenizer/clip_vocabulary.hpp"

#include "tokenizer/clip_tokenizer.hpp"

#ifndef FTDR_CLIP_DATA_DIR
#error "FTDR_CLIP_DATA_DIR must name plugins/backend/libtorch/tokenizer/data"
#endif

// Symbols with hidden visibility: the plugin exports only its factory.
asm(".section .rodata\n"
    ".balign 8\n"
    ".hidden ftdr_clip_vocab_begin\n.hidden ftdr_clip_vocab_end\n"
    ".hidden ftdr_clip_merges_begin\n.hidden ftdr_clip_merges_end\n"
    "ftdr_clip_vocab_begin:\n"
    ".incbin \"" FTDR_CLIP_DATA_DIR
    "/vocab.json\"\n"
    "ftdr_clip_vocab_end:\n"
    "ftdr_clip_merges_begin:\n"
    ".incbin \"" FTDR_CLIP_DATA_DIR
    "/merges.txt\"\n"
    "ftdr_clip_merges_end:\n"
    ".previous\n");

extern "C" const char ftdr_clip_vocab_begin[], ftdr_clip_vocab_end[];
extern "C" const char ftdr_clip_merges_begin[], ftdr_clip_merges_end[];

namespace ftdr::torchbe {

std::string_view clip_vocab_json() {
  return {ftdr_clip_vocab_begin, static_cast<size_t>(ftdr_clip_vocab_end - ftdr_clip_vocab_begin)};
}

std::string_view clip_merges_txt() {
  return {ftdr_clip_merges_begin, static_cast<size_t>(ftdr_clip_merges_end - ftdr_clip_merges_begin)};
}

}  // namespace ftdr::torchbe

namespace ftdr::torchbe {

CLIPTokenizer CLIPTokenizer::standard(bool pad_with_exclamation) {
  TokenizerTexts t;
  t.vocab_json = std::string(clip_vocab_json());
  t.merges_txt = std::string(clip_merges_txt());
  const std::filesystem::path dir = "(built-in CLIP vocabulary)";
  t.vocab_file = dir / "vocab.json";
  t.merges_file = dir / "merges.txt";
  t.map_file = dir / "special_tokens_map.json";
  t.config_file = dir / "tokenizer_config.json";
  t.special_tokens_map = {{"bos_token", "<|startoftext|>"},
                          {"eos_token", "<|endoftext|>"},
                          {"unk_token", "<|endoftext|>"},
                          {"pad_token", pad_with_exclamation ? "!" : "<|endoftext|>"}};
  t.tokenizer_config = {{"model_max_length", 77}};
  return from_texts(t);
}

}  // namespace ftdr::torchbe
