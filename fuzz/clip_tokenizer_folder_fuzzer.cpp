// Fuzz target: CLIPTokenizer::from_folder (plugins/backend/libtorch/tokenizer) on a folder made from the
// input: NUL-separated vocab.json, merges.txt, tokenizer_config.json, special_tokens_map.json and a
// prompt (a part not given is a file not there). A broken folder is sdk::Error(model_error); a
// tokenizer it accepts encodes the prompt without throwing.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <vector>

#include "ftdr/sdk/error.hpp"
#include "fuzz_target.hpp"
#include "tokenizer/clip_tokenizer.hpp"

namespace {

namespace fs = std::filesystem;

const char* const kFiles[] = {"vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json"};

std::vector<std::string> split_nul(const std::string& input) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  for (std::size_t at; (at = input.find('\0', start)) != std::string::npos; start = at + 1)
    parts.push_back(input.substr(start, at - start));
  parts.push_back(input.substr(start));
  return parts;
}

// One folder per process, rewritten for every input.
const fs::path& folder() {
  static const fs::path dir = [] {
    fs::path d = fs::temp_directory_path() / ("ftdr_fuzz_tokenizer_" + std::to_string(::getpid()));
    fs::create_directories(d);
    return d;
  }();
  return dir;
}

}  // namespace

FTDR_FUZZ_TARGET(clip_tokenizer_folder) {
  const std::vector<std::string> parts = split_nul(ftdr::fuzz::text(data, size));
  for (std::size_t i = 0; i < 4; ++i) {
    const fs::path file = folder() / kFiles[i];
    if (i < parts.size())
      std::ofstream(file, std::ios::binary | std::ios::trunc) << parts[i];
    else
      fs::remove(file);
  }
  try {
    const auto tok = ftdr::torchbe::CLIPTokenizer::from_folder(folder());
    const std::string prompt = parts.size() > 4 ? parts[4] : "a photo of a cat";
    const std::vector<std::int64_t> ids = tok.encode(prompt);
    FTDR_FUZZ_CHECK(ids.size() == static_cast<std::size_t>(tok.max_length()), "max_length ids");
  } catch (const ftdr::sdk::Error& e) {
    FTDR_FUZZ_CHECK(e.kind() == ftdr::sdk::ErrorKind::model_error, e.what());
  }
}
