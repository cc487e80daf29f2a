// Fuzz target: CLIPTokenizer::encode (plugins/backend/libtorch/tokenizer) on any bytes as the prompt, with
// the shipped demo model's tokenizer. encode never throws, and gives max_length ids that start
// with bos and keep eos after the (truncated) tokens.
#include "fuzz_target.hpp"
#include "tokenizer/clip_tokenizer.hpp"

FTDR_FUZZ_TARGET(clip_tokenizer) {
  static const ftdr::torchbe::CLIPTokenizer tok =
      ftdr::torchbe::CLIPTokenizer::from_folder(FTDR_SOURCE_DIR "/models/ftdr-shapes/tokenizer");
  const std::string prompt = ftdr::fuzz::text(data, size);
  const std::vector<std::int64_t> ids = tok.encode(prompt);
  FTDR_FUZZ_CHECK(ids.size() == static_cast<std::size_t>(tok.max_length()), "max_length ids");
  FTDR_FUZZ_CHECK(ids.front() == tok.bos_id(), "bos first");
  const std::vector<std::int64_t> unpadded = tok.encode_unpadded(prompt);
  FTDR_FUZZ_CHECK(unpadded.size() >= 2 && unpadded.size() <= ids.size(), "bos + tokens + eos");
  FTDR_FUZZ_CHECK(unpadded.back() == tok.eos_id(), "eos last");
  for (std::int64_t id : ids) FTDR_FUZZ_CHECK(id >= 0, "ids are vocab ids");
}
