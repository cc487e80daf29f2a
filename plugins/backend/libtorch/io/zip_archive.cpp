// io/zip_archive.cpp: central directory -> entries (PKWARE APPNOTE 6.3: 4.3.6 local header,
// 4.3.12 central directory header, 4.3.14-16 zip64 end records, 4.5.3 zip64 extra field).
#include "io/zip_archive.hpp"

#include "ftdr/sdk/error.hpp"

namespace ftdr::torchbe {
namespace {

constexpr std::uint32_t kLocalHeader = 0x04034b50, kCentralHeader = 0x02014b50;
constexpr std::uint32_t kEndRecord = 0x06054b50, kZip64EndRecord = 0x06064b50, kZip64Locator = 0x07064b50;

class Reader {
 public:
  Reader(const std::uint8_t* bytes, std::size_t size, const std::filesystem::path& path)
      : bytes_(bytes), size_(size), path_(path) {}

  [[noreturn]] void fail(const std::string& what) const {
    throw sdk::Error(sdk::ErrorKind::model_error,
                     "checkpoint " + path_.string() + ": not a readable zip archive: " + what);
  }
  // Little-endian unsigned of `n` bytes at `at`; fails past the end.
  std::uint64_t le(std::uint64_t at, int n) const {
    if (at > size_ || static_cast<std::uint64_t>(n) > size_ - at)
      fail("truncated (a record runs past the end)");
    std::uint64_t v = 0;
    for (int i = n - 1; i >= 0; --i) v = (v << 8) | bytes_[at + static_cast<std::uint64_t>(i)];
    return v;
  }
  std::string text(std::uint64_t at, std::uint64_t n) const {
    if (at > size_ || n > size_ - at) fail("truncated (a file name runs past the end)");
    return std::string(reinterpret_cast<const char*>(bytes_ + at), static_cast<std::size_t>(n));
  }
  std::size_t size() const { return size_; }

 private:
  const std::uint8_t* bytes_;
  std::size_t size_;
  const std::filesystem::path& path_;
};

// The end-of-central-directory record: searched backwards over the maximum comment length.
std::uint64_t find_end_record(const Reader& r) {
  if (r.size() < 22) r.fail("too short for a zip archive");
  const std::uint64_t last = r.size() - 22;
  const std::uint64_t first = last > 65535 ? last - 65535 : 0;
  for (std::uint64_t at = last + 1; at-- > first;)
    if (r.le(at, 4) == kEndRecord) return at;
  r.fail("no end-of-central-directory record");
}

struct Directory {
  std::uint64_t entries = 0, offset = 0;
};

Directory read_directory(const Reader& r, std::uint64_t end) {
  Directory d{r.le(end + 10, 2), r.le(end + 16, 4)};
  if (d.entries != 0xffff && d.offset != 0xffffffff) return d;
  if (end < 20 || r.le(end - 20, 4) != kZip64Locator) r.fail("zip64 sizes without a zip64 locator");
  const std::uint64_t record = r.le(end - 20 + 8, 8);
  if (r.le(record, 4) != kZip64EndRecord) r.fail("the zip64 locator points at no zip64 end record");
  return Directory{r.le(record + 32, 8), r.le(record + 48, 8)};
}

// Sizes and offset of one central entry, widened by its zip64 extra field where they are 0xffffffff.
void read_zip64_extra(const Reader& r, std::uint64_t extra, std::uint64_t extra_len, std::uint64_t& size,
                      std::uint64_t& compressed, std::uint64_t& local) {
  for (std::uint64_t at = extra; at + 4 <= extra + extra_len;) {
    const std::uint64_t id = r.le(at, 2), len = r.le(at + 2, 2);
    if (id == 1) {
      std::uint64_t field = at + 4;
      if (size == 0xffffffff) size = r.le(field, 8), field += 8;
      if (compressed == 0xffffffff) compressed = r.le(field, 8), field += 8;
      if (local == 0xffffffff) local = r.le(field, 8);
      return;
    }
    at += 4 + len;
  }
}

}  // namespace

ZipIndex read_zip_index(const std::uint8_t* bytes, std::size_t size, const std::filesystem::path& path) {
  const Reader r(bytes, size, path);
  const Directory dir = read_directory(r, find_end_record(r));
  if (dir.entries > kMaxZipEntries)
    r.fail(std::to_string(dir.entries) + " entries (at most " + std::to_string(kMaxZipEntries) + ")");
  ZipIndex index;
  std::uint64_t at = dir.offset;
  for (std::uint64_t i = 0; i < dir.entries; ++i) {
    if (r.le(at, 4) != kCentralHeader)
      r.fail("entry " + std::to_string(i) + " of the central directory is damaged");
    const std::uint64_t flags = r.le(at + 8, 2), method = r.le(at + 10, 2);
    std::uint64_t compressed = r.le(at + 20, 4), stored = r.le(at + 24, 4), local = r.le(at + 42, 4);
    const std::uint64_t name_len = r.le(at + 28, 2), extra_len = r.le(at + 30, 2),
                        comment_len = r.le(at + 32, 2);
    if (name_len > 4096) r.fail("an entry name longer than 4096 bytes");
    const std::string name = r.text(at + 46, name_len);
    read_zip64_extra(r, at + 46 + name_len, extra_len, stored, compressed, local);
    if (method != 0 || (flags & 1) != 0)
      r.fail("entry " + name + " is compressed or encrypted (torch.save stores entries uncompressed)");
    if (compressed != stored)
      r.fail("entry " + name + ": stored size " + std::to_string(compressed) + " != size " +
             std::to_string(stored));
    if (r.le(local, 4) != kLocalHeader) r.fail("entry " + name + ": no local header at its offset");
    const std::uint64_t data = local + 30 + r.le(local + 26, 2) + r.le(local + 28, 2);
    if (data > size || stored > size - data)
      r.fail("entry " + name + ": data runs past the end (truncated file?)");
    index.entries[name] = ZipEntry{data, stored};
    at += 46 + name_len + extra_len + comment_len;
  }
  return index;
}

}  // namespace ftdr::torchbe
