// SafeTensorsFile::load gives the file's pages back once a tensor is copied out: an open file's
// mapping holds (almost) nothing resident, so loading a component does not peak at its weights
// twice. Read from the kernel's own account of the mapping (/proc/self/smaps).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cctype>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "io/safetensors.hpp"

namespace ftdr::test {
namespace {

namespace fs = std::filesystem;

// Resident kB of this process's mappings of `path` (every line "Rss: N kB" of their smaps entries).
long resident_kb_of(const fs::path& path) {
  std::ifstream smaps("/proc/self/smaps");
  long total = 0;
  bool in_file = false;
  for (std::string line; std::getline(smaps, line);) {
    const bool header = line.find('-') < line.find(' ') && line.find(' ') != std::string::npos &&
                        std::isxdigit(static_cast<unsigned char>(line[0]));
    if (header) {
      in_file = line.size() >= path.string().size() &&
                line.compare(line.size() - path.string().size(), std::string::npos, path.string()) == 0;
    } else if (in_file && line.rfind("Rss:", 0) == 0) {
      std::istringstream in(line.substr(4));
      long kb = 0;
      in >> kb;
      total += kb;
    }
  }
  return total;
}

TEST(SafeTensorsPages, ALoadedTensorsPagesDoNotStayResident) {
  const fs::path dir = fs::temp_directory_path() / ("ftdr_safetensors_pages_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const fs::path path = fs::canonical(dir) / "big.safetensors";
  const at::Tensor big = at::arange(16 * 1024 * 1024, at::kFloat);  // 64 MiB
  torchbe::save_safetensors(path, {{"big", big}, {"small", at::ones({3})}});

  const auto file = torchbe::SafeTensorsFile::open(path);
  const at::Tensor loaded = file.load("big");
  EXPECT_TRUE(at::equal(loaded, big));
  // The header page and the partial pages at the tensor's ends may stay: a few pages, not 64 MiB.
  EXPECT_LE(resident_kb_of(path), 64) << "kB of " << path << " resident after loading";
  EXPECT_TRUE(at::equal(file.load("big"), big));  // released pages read back from the file
  EXPECT_TRUE(at::equal(file.load("small"), at::ones({3})));
  fs::remove_all(dir);
}

}  // namespace
}  // namespace ftdr::test
