// Fuzz target: A1111 prompt syntax (plugins/backend/libtorch/tokenizer/prompt_weights, prompt_chunks) on
// any bytes, with the shipped demo model's tokenizer. The parser throws nothing but
// sdk::Error(invalid_request) for a weight it cannot read; what it returns is at least one run, no
// two neighbours of equal weight, every weight within float32; chunking gives max_length ids per
// chunk that start with bos and end with eos, one weight per id.
#include <cfloat>
#include <cmath>

#include "ftdr/sdk/error.hpp"
#include "fuzz_target.hpp"
#include "tokenizer/prompt_chunks.hpp"
#include "tokenizer/prompt_weights.hpp"

FTDR_FUZZ_TARGET(prompt_weights) {
  static const ftdr::torchbe::CLIPTokenizer tok =
      ftdr::torchbe::CLIPTokenizer::from_folder(FTDR_SOURCE_DIR "/models/ftdr-shapes/tokenizer");
  std::vector<ftdr::torchbe::PromptRun> runs;
  try {
    runs = ftdr::torchbe::parse_prompt_attention(ftdr::fuzz::text(data, size), "prompt");
  } catch (const ftdr::sdk::Error& e) {
    FTDR_FUZZ_CHECK(e.kind() == ftdr::sdk::ErrorKind::invalid_request, e.what());
    return;
  }
  FTDR_FUZZ_CHECK(!runs.empty(), "at least one run");
  for (std::size_t i = 0; i < runs.size(); ++i) {
    FTDR_FUZZ_CHECK(std::fabs(runs[i].weight) <= FLT_MAX, "weights within float32");
    FTDR_FUZZ_CHECK(i == 0 || runs[i].weight != runs[i - 1].weight, "equal neighbours are merged");
  }
  const auto chunks = ftdr::torchbe::chunk_prompt(tok, runs, 20);
  FTDR_FUZZ_CHECK(!chunks.empty(), "at least one chunk");
  const auto length = static_cast<std::size_t>(tok.max_length());
  for (const auto& c : chunks) {
    FTDR_FUZZ_CHECK(c.tokens.size() == length && c.multipliers.size() == length,
                    "max_length ids and weights");
    FTDR_FUZZ_CHECK(c.tokens.front() == tok.bos_id() && c.tokens.back() == tok.eos_id(), "bos ... eos");
  }
}
