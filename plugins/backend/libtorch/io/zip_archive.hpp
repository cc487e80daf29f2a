// io/zip_archive.hpp: the entries of a zip archive whose members are stored uncompressed, as
// torch.save writes them (.ckpt / .pt), located inside the file's bytes without copying them.
//
//   ZipIndex zip = read_zip_index(bytes, size, path);
//   const ZipEntry& e = zip.entries.at("archive/data.pkl");   // bytes + e.offset, e.size bytes
//
// Reads the end-of-central-directory record (zip64 too), then every central-directory entry and
// its local header. Bounded: at most kMaxZipEntries entries, names of at most 4096 bytes, every
// entry's data inside the file. A compressed or encrypted entry, a truncated or inconsistent
// directory is an sdk::Error(model_error) naming `path` (and the entry). Needs no libtorch (fuzzed).
#pragma once
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>

namespace ftdr::torchbe {

inline constexpr std::size_t kMaxZipEntries = 1'000'000;

struct ZipEntry {
  std::uint64_t offset = 0;  // of the data, from the start of the file
  std::uint64_t size = 0;
};

struct ZipIndex {
  std::map<std::string, ZipEntry> entries;
};

ZipIndex read_zip_index(const std::uint8_t* bytes, std::size_t size, const std::filesystem::path& path);

}  // namespace ftdr::torchbe
