// io/safetensors.cpp: mmap reader with up-front header validation, and the writer.
#include "io/safetensors.h"

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

// Header lengths beyond this are certainly corrupt (real headers are a few hundred KiB).
constexpr uint64_t kMaxHeaderBytes = uint64_t{100} << 20;

[[noreturn]] void fail(const std::filesystem::path& path, const std::string& what) {
  throw Error(ErrorKind::model_error, "safetensors file " + path.string() + ": " + what);
}

[[noreturn]] void fail_key(const std::filesystem::path& path, const std::string& key,
                           const std::string& what) {
  fail(path, "tensor '" + key + "': " + what);
}

// Element size of a stored dtype name; 0 for names the format does not define.
size_t element_size(const std::string& dtype) {
  static const std::map<std::string, size_t> sizes = {
      {"F64", 8}, {"F32", 4}, {"F16", 2}, {"BF16", 2}, {"I64", 8}, {"I32", 4}, {"I16", 2},
      {"I8", 1},  {"U8", 1},  {"BOOL", 1}, {"U16", 2}, {"U32", 4}, {"U64", 8}};
  auto it = sizes.find(dtype);
  return it == sizes.end() ? 0 : it->second;
}

// The dtypes load() converts from.
bool scalar_type_of(const std::string& dtype, at::ScalarType& out) {
  if (dtype == "F32") out = at::kFloat;
  else if (dtype == "F16") out = at::kHalf;
  else if (dtype == "BF16") out = at::kBFloat16;
  else if (dtype == "I64") out = at::kLong;
  else return false;
  return true;
}

std::string shape_string(const std::vector<int64_t>& shape) {
  std::ostringstream s;
  s << '[';
  for (size_t i = 0; i < shape.size(); ++i) s << (i ? ", " : "") << shape[i];
  s << ']';
  return s.str();
}

SafeTensorsFile::TensorInfo parse_entry(const std::filesystem::path& path, const std::string& key,
                                        const nlohmann::json& e, uint64_t data_bytes) {
  if (!e.is_object()) fail_key(path, key, "expected an object with dtype, shape, data_offsets");
  SafeTensorsFile::TensorInfo info;
  auto dt = e.find("dtype");
  if (dt == e.end() || !dt->is_string()) fail_key(path, key, "missing string 'dtype'");
  info.dtype = dt->get<std::string>();
  size_t esize = element_size(info.dtype);
  if (esize == 0) fail_key(path, key, "unknown dtype '" + info.dtype + "'");
  auto sh = e.find("shape");
  if (sh == e.end() || !sh->is_array()) fail_key(path, key, "missing array 'shape'");
  uint64_t elements = 1;
  for (const auto& d : *sh) {
    if (!d.is_number_unsigned()) fail_key(path, key, "shape entries must be integers >= 0");
    uint64_t n = d.get<uint64_t>();
    if (n != 0 && elements > (uint64_t{1} << 62) / n) fail_key(path, key, "shape too large");
    elements *= n;
    info.shape.push_back(static_cast<int64_t>(n));
  }
  auto off = e.find("data_offsets");
  if (off == e.end() || !off->is_array() || off->size() != 2 || !(*off)[0].is_number_unsigned() ||
      !(*off)[1].is_number_unsigned())
    fail_key(path, key, "missing 'data_offsets' [begin, end]");
  info.begin = (*off)[0].get<uint64_t>();
  info.end = (*off)[1].get<uint64_t>();
  if (info.begin > info.end || info.end > data_bytes)
    fail_key(path, key, "data_offsets [" + std::to_string(info.begin) + ", " + std::to_string(info.end) +
                            "] out of range: the data section has " + std::to_string(data_bytes) + " bytes");
  if (elements * esize != info.end - info.begin)
    fail_key(path, key, "shape " + shape_string(info.shape) + " x " + info.dtype + " needs " +
                            std::to_string(elements * esize) + " bytes, data_offsets give " +
                            std::to_string(info.end - info.begin));
  return info;
}

// Overlapping byte ranges would make two tensors alias (a crafted or corrupt file).
void check_no_overlap(const std::filesystem::path& path,
                      const std::map<std::string, SafeTensorsFile::TensorInfo>& tensors) {
  std::vector<std::pair<const std::string*, const SafeTensorsFile::TensorInfo*>> order;
  for (const auto& [k, v] : tensors) order.emplace_back(&k, &v);
  std::sort(order.begin(), order.end(), [](const auto& a, const auto& b) {
    return a.second->begin != b.second->begin ? a.second->begin < b.second->begin
                                              : a.second->end < b.second->end;
  });
  for (size_t i = 1; i < order.size(); ++i) {
    const auto& prev = order[i - 1];
    const auto& cur = order[i];
    if (cur.second->begin < prev.second->end)
      fail_key(path, *cur.first, "data overlaps tensor '" + *prev.first + "'");
  }
}

}  // namespace

struct SafeTensorsFile::Mapping {
  void* base = MAP_FAILED;
  size_t size = 0;
  ~Mapping() {
    if (base != MAP_FAILED) munmap(base, size);
  }
};

SafeTensorsFile SafeTensorsFile::open(const std::filesystem::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail(path, std::string("cannot open: ") + std::strerror(errno));
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    fail(path, "not a regular file");
  }
  auto mapping = std::make_shared<Mapping>();
  mapping->size = static_cast<size_t>(st.st_size);
  if (mapping->size > 0) mapping->base = mmap(nullptr, mapping->size, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (mapping->size > 0 && mapping->base == MAP_FAILED)
    fail(path, std::string("mmap failed: ") + std::strerror(errno));
  if (mapping->size < 8)
    fail(path, "truncated: " + std::to_string(mapping->size) + " bytes, expected at least the 8-byte header length");

  const auto* bytes = static_cast<const uint8_t*>(mapping->base);
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | bytes[i];  // little-endian
  if (header_len > kMaxHeaderBytes || header_len > mapping->size - 8)
    fail(path, "header length " + std::to_string(header_len) + " runs past the end of the file (" +
                   std::to_string(mapping->size) + " bytes)");

  nlohmann::json header;
  try {
    header = nlohmann::json::parse(reinterpret_cast<const char*>(bytes + 8),
                                   reinterpret_cast<const char*>(bytes + 8 + header_len));
  } catch (const nlohmann::json::exception& e) {
    fail(path, std::string("header is not valid JSON: ") + e.what());
  }
  if (!header.is_object()) fail(path, "header is not a JSON object");

  SafeTensorsFile file;
  file.path_ = path;
  file.mapping_ = mapping;
  file.data_ = bytes + 8 + header_len;
  const uint64_t data_bytes = mapping->size - 8 - header_len;
  for (auto it = header.begin(); it != header.end(); ++it) {
    if (it.key() == "__metadata__") {
      if (!it->is_object()) fail(path, "__metadata__ must be an object of strings");
      for (auto m = it->begin(); m != it->end(); ++m) {
        if (!m->is_string()) fail(path, "__metadata__ '" + m.key() + "' must be a string");
        file.metadata_[m.key()] = m->get<std::string>();
      }
      continue;
    }
    file.tensors_[it.key()] = parse_entry(path, it.key(), *it, data_bytes);
  }
  check_no_overlap(path, file.tensors_);
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
  if (it == tensors_.end()) fail_key(path_, key, "not in the file");
  return it->second;
}

at::Tensor SafeTensorsFile::load(const std::string& key) const {
  const TensorInfo& ti = info(key);
  at::ScalarType stored;
  if (!scalar_type_of(ti.dtype, stored))
    fail_key(path_, key, "dtype " + ti.dtype + " cannot be loaded (supported: F32, F16, BF16, I64)");
  at::Tensor out = at::empty(ti.shape, at::TensorOptions().dtype(stored));
  if (ti.end > ti.begin) std::memcpy(out.data_ptr(), data_ + ti.begin, ti.end - ti.begin);
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
      out.write(static_cast<const char*>(t.data_ptr()), static_cast<std::streamsize>(t.numel() * t.element_size()));
    if (!out.flush()) throw Error(ErrorKind::internal, "failed writing " + tmp.string());
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) throw Error(ErrorKind::internal, "cannot rename " + tmp.string() + " to " + path.string() + ": " + ec.message());
}

}  // namespace ftdr::torchbe
