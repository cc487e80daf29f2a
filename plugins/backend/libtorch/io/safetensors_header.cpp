// io/safetensors_header.cpp: the header's length, JSON, entries and byte ranges, checked up front.
#include "io/safetensors_header.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <sstream>
#include <utility>

#include "ftdr/sdk/error.hpp"

namespace ftdr::torchbe {
namespace {

using sdk::Error;
using sdk::ErrorKind;

// Header lengths beyond this are certainly corrupt (real headers are a few hundred KiB).
constexpr uint64_t kMaxHeaderBytes = uint64_t{100} << 20;
// No tensor holds more bytes than this (2^62): products and shape entries stay far from overflow
// and every dimension fits the int64_t that libtorch takes.
constexpr uint64_t kMaxTensorBytes = uint64_t{1} << 62;

std::string shape_string(const std::vector<int64_t>& shape) {
  std::ostringstream s;
  s << '[';
  for (size_t i = 0; i < shape.size(); ++i) s << (i ? ", " : "") << shape[i];
  s << ']';
  return s.str();
}

// The shape's byte count (product x element size), refusing any that exceeds kMaxTensorBytes
// (which a wrapped product could otherwise pass off as the byte length of the offsets).
uint64_t parse_shape(const std::filesystem::path& path, const std::string& key, const nlohmann::json& shape,
                     size_t element_size, std::vector<int64_t>& out) {
  uint64_t bytes = element_size;
  bool zero = false;
  for (const auto& d : shape) {
    if (!d.is_number_unsigned()) safetensors_fail(path, key, "shape entries must be integers >= 0");
    const uint64_t n = d.get<uint64_t>();
    if (n > kMaxTensorBytes || (n != 0 && bytes > kMaxTensorBytes / n))
      safetensors_fail(path, key, "shape too large");
    zero = zero || n == 0;
    if (n != 0) bytes *= n;
    out.push_back(static_cast<int64_t>(n));
  }
  return zero ? 0 : bytes;
}

SafeTensorsTensorInfo parse_entry(const std::filesystem::path& path, const std::string& key,
                                  const nlohmann::json& e, uint64_t data_bytes) {
  if (!e.is_object()) safetensors_fail(path, key, "expected an object with dtype, shape, data_offsets");
  SafeTensorsTensorInfo info;
  auto dt = e.find("dtype");
  if (dt == e.end() || !dt->is_string()) safetensors_fail(path, key, "missing string 'dtype'");
  info.dtype = dt->get<std::string>();
  size_t esize = safetensors_element_size(info.dtype);
  if (esize == 0) safetensors_fail(path, key, "unknown dtype '" + info.dtype + "'");
  auto sh = e.find("shape");
  if (sh == e.end() || !sh->is_array()) safetensors_fail(path, key, "missing array 'shape'");
  const uint64_t bytes = parse_shape(path, key, *sh, esize, info.shape);
  auto off = e.find("data_offsets");
  if (off == e.end() || !off->is_array() || off->size() != 2 || !(*off)[0].is_number_unsigned() ||
      !(*off)[1].is_number_unsigned())
    safetensors_fail(path, key, "missing 'data_offsets' [begin, end]");
  info.begin = (*off)[0].get<uint64_t>();
  info.end = (*off)[1].get<uint64_t>();
  if (info.begin > info.end || info.end > data_bytes)
    safetensors_fail(path, key,
                     "data_offsets [" + std::to_string(info.begin) + ", " + std::to_string(info.end) +
                         "] out of range: the data section has " + std::to_string(data_bytes) + " bytes");
  if (bytes != info.end - info.begin)
    safetensors_fail(path, key,
                     "shape " + shape_string(info.shape) + " x " + info.dtype + " needs " +
                         std::to_string(bytes) + " bytes, data_offsets give " +
                         std::to_string(info.end - info.begin));
  return info;
}

// Overlapping byte ranges would make two tensors alias (a crafted or corrupt file).
void check_no_overlap(const std::filesystem::path& path,
                      const std::map<std::string, SafeTensorsTensorInfo>& tensors) {
  std::vector<std::pair<const std::string*, const SafeTensorsTensorInfo*>> order;
  for (const auto& [k, v] : tensors) order.emplace_back(&k, &v);
  std::sort(order.begin(), order.end(), [](const auto& a, const auto& b) {
    return a.second->begin != b.second->begin ? a.second->begin < b.second->begin
                                              : a.second->end < b.second->end;
  });
  for (size_t i = 1; i < order.size(); ++i) {
    const auto& prev = order[i - 1];
    const auto& cur = order[i];
    if (cur.second->begin < prev.second->end)
      safetensors_fail(path, *cur.first, "data overlaps tensor '" + *prev.first + "'");
  }
}

}  // namespace

size_t safetensors_element_size(const std::string& dtype) {
  static const std::map<std::string, size_t> sizes = {
      {"F64", 8}, {"F32", 4}, {"F16", 2},  {"BF16", 2}, {"I64", 8}, {"I32", 4}, {"I16", 2},
      {"I8", 1},  {"U8", 1},  {"BOOL", 1}, {"U16", 2},  {"U32", 4}, {"U64", 8}};
  auto it = sizes.find(dtype);
  return it == sizes.end() ? 0 : it->second;
}

SafeTensorsHeader parse_safetensors_header(const uint8_t* bytes, size_t size,
                                           const std::filesystem::path& path) {
  if (size < 8)
    safetensors_fail(
        path, "truncated: " + std::to_string(size) + " bytes, expected at least the 8-byte header length");
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | bytes[i];  // little-endian
  if (header_len > kMaxHeaderBytes || header_len > size - 8)
    safetensors_fail(path, "header length " + std::to_string(header_len) +
                               " runs past the end of the file (" + std::to_string(size) + " bytes)");

  nlohmann::json json;
  try {
    json = nlohmann::json::parse(reinterpret_cast<const char*>(bytes + 8),
                                 reinterpret_cast<const char*>(bytes + 8 + header_len));
  } catch (const nlohmann::json::exception& e) {
    safetensors_fail(path, std::string("header is not valid JSON: ") + e.what());
  }
  if (!json.is_object()) safetensors_fail(path, "header is not a JSON object");

  SafeTensorsHeader header;
  header.data_offset = 8 + header_len;
  const uint64_t data_bytes = size - header.data_offset;
  for (auto it = json.begin(); it != json.end(); ++it) {
    if (it.key() == "__metadata__") {
      if (!it->is_object()) safetensors_fail(path, "__metadata__ must be an object of strings");
      for (auto m = it->begin(); m != it->end(); ++m) {
        if (!m->is_string()) safetensors_fail(path, "__metadata__ '" + m.key() + "' must be a string");
        header.metadata[m.key()] = m->get<std::string>();
      }
      continue;
    }
    header.tensors[it.key()] = parse_entry(path, it.key(), *it, data_bytes);
  }
  check_no_overlap(path, header.tensors);
  return header;
}

void safetensors_fail(const std::filesystem::path& path, const std::string& what) {
  throw sdk::Error(sdk::ErrorKind::model_error, "safetensors file " + path.string() + ": " + what);
}

void safetensors_fail(const std::filesystem::path& path, const std::string& key, const std::string& what) {
  safetensors_fail(path, "tensor '" + key + "': " + what);
}

}  // namespace ftdr::torchbe
