// backend/model_identity.cpp: see model_identity.h.
#include "artifacts/model_identity.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <vector>

#include "io/single_file.hpp"

namespace ftdr::torchbe {
namespace fs = std::filesystem;
namespace {

// "<path> <size> <mtime>" per file; a file that vanished counts as size and time -1.
std::string describe(const fs::path& file) {
  std::error_code ec;
  const auto size = fs::file_size(file, ec);
  const long long bytes = ec ? -1 : static_cast<long long>(size);
  const auto time = fs::last_write_time(file, ec);
  const long long ticks = ec ? -1 : static_cast<long long>(time.time_since_epoch().count());
  return file.string() + " " + std::to_string(bytes) + " " + std::to_string(ticks) + "\n";
}

std::vector<fs::path> files_read(const ModelFolder& m) {
  if (!m.files_read.empty()) return m.files_read;  // a single file (+ its VAE, sidecar, configs)
  std::vector<fs::path> files{m.root / "model_index.json", m.root / "scheduler" / "scheduler_config.json"};
  std::vector<fs::path> weights{m.text_encoder_weights, m.unet_weights, m.vae_weights};
  if (m.is_sdxl()) weights.push_back(m.text_encoder_2_weights);
  for (const fs::path& w : weights) {
    files.push_back(w.parent_path() / "config.json");
    files.push_back(w);
  }
  if (m.checkpoint && m.checkpoint->vae) files.push_back(m.checkpoint->vae->path());
  std::vector<fs::path> tokenizer;
  std::error_code ec;
  for (const fs::path& dir : {m.tokenizer_dir, m.tokenizer_2_dir})
    if (!dir.empty())
      for (const auto& e : fs::directory_iterator(dir, ec))
        if (e.is_regular_file(ec)) tokenizer.push_back(e.path());
  std::sort(tokenizer.begin(), tokenizer.end());
  files.insert(files.end(), tokenizer.begin(), tokenizer.end());
  return files;
}

}  // namespace

std::string digest_hex(const std::string& text) {
  std::uint64_t h = 14695981039346656037ull;
  for (const unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ull;
  }
  char out[17];
  std::snprintf(out, sizeof out, "%016llx", static_cast<unsigned long long>(h));
  return out;
}

std::string model_identity(const ModelFolder& folder, sdk::DType dtype) {
  std::error_code ec;
  const fs::path root = fs::weakly_canonical(folder.root, ec);
  std::string text = (ec ? folder.root : root).string() + "\n" + std::string(sdk::to_string(dtype)) + "\n";
  for (const fs::path& file : files_read(folder)) text += describe(file);
  return digest_hex(text);
}

}  // namespace ftdr::torchbe
