// io/safetensors.cpp: mmap reader with up-front header validation, and the writer.
#include "io/safetensors.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "ftdr/sdk/error.hpp"

namespace ftdr::torchbe {
namespace {

using sdk::Error;
using sdk::ErrorKind;

// The dtypes load() converts from.
bool scalar_type_of(const std::string& dtype, at::ScalarType& out) {
  if (dtype == "F32")
    out = at::kFloat;
  else if (dtype == "F16")
    out = at::kHalf;
  else if (dtype == "BF16")
    out = at::kBFloat16;
  else if (dtype == "I64")
    out = at::kLong;
  else if (dtype == "F64")
    out = at::kDouble;
  else if (dtype == "I32")
    out = at::kInt;
  else if (dtype == "I16")
    out = at::kShort;
  else if (dtype == "I8")
    out = at::kChar;
  else if (dtype == "U8")
    out = at::kByte;
  else if (dtype == "BOOL")
    out = at::kBool;
  else
    return false;
  return true;
}

}  // namespace

// Drops the mapping's pages that lie wholly inside [begin, end) from this process's memory. The
// mapping is private and read-only, so they are clean copies of the file: a later read faults them
// in again. Without this every page a load touched stayed resident until the file was closed, and
// loading a component peaked at its weights twice (parameters + mapped file: 6.7 GB for an
// SD-1.5 UNet whose weights are 3.4 GB).
static void release_pages(const uint8_t* begin, const uint8_t* end) {
  static const auto page = static_cast<std::uintptr_t>(sysconf(_SC_PAGESIZE));
  const std::uintptr_t first = (reinterpret_cast<std::uintptr_t>(begin) + page - 1) / page * page;
  const std::uintptr_t last = reinterpret_cast<std::uintptr_t>(end) / page * page;
  if (last > first) madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED);
}

struct SafeTensorsFile::Mapping {
  void* base = MAP_FAILED;
  size_t size = 0;
  ~Mapping() {
    if (base != MAP_FAILED) munmap(base, size);
  }
};

SafeTensorsFile SafeTensorsFile::open(const std::filesystem::path& path) {
  return open(path, &parse_safetensors_header);
}

SafeTensorsFile SafeTensorsFile::open(const std::filesystem::path& path, HeaderParser parser) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) safetensors_fail(path, std::string("cannot open: ") + std::strerror(errno));
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    safetensors_fail(path, "not a regular file");
  }
  auto mapping = std::make_shared<Mapping>();
  mapping->size = static_cast<size_t>(st.st_size);
  if (mapping->size > 0) mapping->base = mmap(nullptr, mapping->size, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (mapping->size > 0 && mapping->base == MAP_FAILED)
    safetensors_fail(path, std::string("mmap failed: ") + std::strerror(errno));
  const auto* bytes = static_cast<const uint8_t*>(mapping->base);
  SafeTensorsHeader header = parser(bytes, mapping->size, path);
  SafeTensorsFile file;
  file.path_ = path;
  file.mapping_ = mapping;
  file.data_ = bytes + header.data_offset;
  file.tensors_ = std::move(header.tensors);
  file.metadata_ = std::move(header.metadata);
  return file;
}

std::vector<std::string> SafeTensorsFile::keys() const {
  std::vector<std::string> out;
  out.reserve(tensors_.size());
  for (const auto& [k, v] : tensors_) out.push_back(k);
  return out;
}

bool SafeTensorsFile::contains(const std::string& key) const { return tensors_.count(key) != 0; }

const SafeTensorsFile::TensorInfo& SafeTensorsFile::info(const std::string& key) const {
  auto it = tensors_.find(key);
  if (it == tensors_.end()) safetensors_fail(path_, key, "not in the file");
  return it->second;
}

at::Tensor SafeTensorsFile::load(const std::string& key) const { return load_rows(key, 0, 1); }
at::Tensor SafeTensorsFile::load_rows(const std::string& key, int64_t part, int64_t parts) const {
  const TensorInfo& ti = info(key);
  at::ScalarType stored;
  if (!scalar_type_of(ti.dtype, stored))
    safetensors_fail(path_, key,
                     "dtype " + ti.dtype +
                         " cannot be loaded (supported: F32, F16, BF16, F64, I64, I32, I16, I8, U8, BOOL)");
  std::vector<int64_t> shape = ti.shape;
  uint64_t begin = ti.begin, bytes = ti.end - ti.begin;
  if (parts != 1) {
    if (shape.empty() || parts < 1 || part < 0 || part >= parts || shape[0] % parts != 0)
      safetensors_fail(path_, key,
                       "cannot be cut into " + std::to_string(parts) + " parts along its first dimension");
    shape[0] /= parts;
    bytes /= static_cast<uint64_t>(parts);
    begin += bytes * static_cast<uint64_t>(part);
  }
  at::Tensor out = at::empty(shape, at::TensorOptions().dtype(stored));
  if (bytes > 0) {
    std::memcpy(out.data_ptr(), data_ + begin, bytes);
    release_pages(data_ + begin, data_ + begin + bytes);
  }
  return out;
}

at::Tensor SafeTensorsFile::load(const std::string& key, at::ScalarType dtype) const {
  at::Tensor t = load(key);
  return t.scalar_type() == dtype ? t : t.to(dtype);
}

std::string safetensors_dtype_name(at::ScalarType type) {
  switch (type) {
    case at::kFloat: return "F32";
    case at::kHalf: return "F16";
    case at::kBFloat16: return "BF16";
    case at::kLong: return "I64";
    case at::kDouble: return "F64";
    case at::kInt: return "I32";
    case at::kByte: return "U8";
    case at::kBool: return "BOOL";
    case at::kShort: return "I16";
    case at::kChar: return "I8";
    default:
      throw Error(ErrorKind::model_error,
                  std::string("safetensors: no dtype name for ") + c10::toString(type));
  }
}

void save_safetensors(const std::filesystem::path& path,
                      const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  std::vector<std::pair<std::string, at::Tensor>> sorted;
  for (const auto& [name, t] : tensors) sorted.emplace_back(name, t.detach().to(at::kCPU).contiguous());
  std::sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a.first < b.first; });

  nlohmann::ordered_json header;
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const auto& [name, t] : sorted) {
    uint64_t nbytes = t.numel() * t.element_size();
    header[name] = {{"dtype", safetensors_dtype_name(t.scalar_type())},
                    {"shape", t.sizes().vec()},
                    {"data_offsets", {offset, offset + nbytes}}};
    offset += nbytes;
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');

  std::filesystem::path tmp = path;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw Error(ErrorKind::internal, "cannot write " + tmp.string());
    uint64_t len = text.size();
    char len_bytes[8];
    for (int i = 0; i < 8; ++i) len_bytes[i] = static_cast<char>((len >> (8 * i)) & 0xff);
    out.write(len_bytes, 8);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    for (const auto& [name, t] : sorted)
      out.write(static_cast<const char*>(t.data_ptr()),
                static_cast<std::streamsize>(t.numel() * t.element_size()));
    if (!out.flush()) throw Error(ErrorKind::internal, "failed writing " + tmp.string());
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec)
    throw Error(ErrorKind::internal,
                "cannot rename " + tmp.string() + " to " + path.string() + ": " + ec.message());
}

}  // namespace ftdr::torchbe
