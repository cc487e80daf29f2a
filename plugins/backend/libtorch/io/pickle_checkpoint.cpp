// io/pickle_checkpoint.cpp: zip index + restricted unpickle -> tensor table.
#include "io/pickle_checkpoint.hpp"

#include <algorithm>

#include "ftdr/sdk/error.hpp"
#include "io/restricted_unpickler.hpp"
#include "io/zip_archive.hpp"

namespace ftdr::torchbe {
namespace {

using Kind = PickleValue::Kind;

[[noreturn]] void fail(const std::filesystem::path& path, const std::string& what) {
  throw sdk::Error(sdk::ErrorKind::model_error, "checkpoint " + path.string() + ": " + what);
}

// "<name>/data.pkl": torch.save's archive has one top folder.
std::string archive_prefix(const ZipIndex& zip, const std::filesystem::path& path) {
  for (const auto& [name, entry] : zip.entries) {
    const std::size_t slash = name.find('/');
    if (slash != std::string::npos && name.substr(slash + 1) == "data.pkl") return name.substr(0, slash + 1);
  }
  fail(path, "no <name>/data.pkl in the archive (not a torch.save checkpoint)");
}

const PickleValue* state_dict_of(const PickleValue* root, const std::filesystem::path& path) {
  if (root->kind != Kind::dict) fail(path, "the pickle does not hold a dict of tensors");
  for (const auto& [k, v] : root->entries)
    if (k->kind == Kind::text && k->text == "state_dict") {
      if (v->kind != Kind::dict) fail(path, "'state_dict' is not a dict");
      return v;
    }
  return root;
}

// Contiguous, inside its storage and its storage's zip entry: the tensor's byte range in the file.
SafeTensorsTensorInfo tensor_info(const PickleValue& t, const std::string& key, const ZipIndex& zip,
                                  const std::string& prefix, const std::filesystem::path& path) {
  const auto bad = [&](const std::string& what) { fail(path, "tensor '" + key + "': " + what); };
  const std::uint64_t element = safetensors_element_size(t.dtype);
  if (t.shape.size() != t.stride.size() || t.shape.size() > 16) bad("size and stride of different lengths");
  std::uint64_t numel = 1;
  std::int64_t expected_stride = 1;
  for (std::size_t i = t.shape.size(); i-- > 0;) {
    if (t.shape[i] < 0 || __builtin_mul_overflow(numel, static_cast<std::uint64_t>(t.shape[i]), &numel))
      bad("a negative or overflowing size");
    if (t.shape[i] != 1 && t.stride[i] != expected_stride)
      bad("not contiguous (a view with strides is not read)");
    if (__builtin_mul_overflow(expected_stride, t.shape[i] == 0 ? 1 : t.shape[i], &expected_stride))
      bad("overflowing size");
  }
  const auto entry = zip.entries.find(prefix + "data/" + t.storage->text);
  if (entry == zip.entries.end()) bad("its storage data/" + t.storage->text + " is not in the archive");
  const std::uint64_t storage_numel = static_cast<std::uint64_t>(t.storage->integer);
  std::uint64_t storage_bytes = 0, bytes = 0;
  if (__builtin_mul_overflow(storage_numel, element, &storage_bytes) || storage_bytes > entry->second.size)
    bad("its storage data/" + t.storage->text + " is shorter than " + std::to_string(storage_numel) +
        " elements");
  if (t.offset < 0 || static_cast<std::uint64_t>(t.offset) > storage_numel ||
      numel > storage_numel - static_cast<std::uint64_t>(t.offset))
    bad("runs past the end of its storage");
  bytes = numel * element;
  SafeTensorsTensorInfo info;
  info.dtype = t.dtype;
  info.shape = t.shape;
  info.begin = entry->second.offset + static_cast<std::uint64_t>(t.offset) * element;
  info.end = info.begin + bytes;
  return info;
}

}  // namespace

bool looks_like_zip(const std::uint8_t* bytes, std::size_t size) {
  return size >= 4 && bytes[0] == 'P' && bytes[1] == 'K' && bytes[2] == 3 && bytes[3] == 4;
}

SafeTensorsHeader parse_pickle_checkpoint(const std::uint8_t* bytes, std::size_t size,
                                          const std::filesystem::path& path) {
  const ZipIndex zip = read_zip_index(bytes, size, path);
  const std::string prefix = archive_prefix(zip, path);
  if (auto order = zip.entries.find(prefix + "byteorder"); order != zip.entries.end()) {
    const std::string text(reinterpret_cast<const char*>(bytes + order->second.offset),
                           static_cast<std::size_t>(std::min<std::uint64_t>(order->second.size, 16)));
    if (text != "little") fail(path, "byteorder '" + text + "' (only little-endian checkpoints are read)");
  }
  const ZipEntry& pkl = zip.entries.at(prefix + "data.pkl");
  const Unpickled u =
      restricted_unpickle(bytes + pkl.offset, static_cast<std::size_t>(pkl.size), path.string());
  SafeTensorsHeader header;
  for (const auto& [k, v] : state_dict_of(u.root, path)->entries) {
    if (v->kind != Kind::tensor) continue;
    if (k->kind != Kind::text) fail(path, "a tensor under a key that is not a string");
    if (header.tensors.count(k->text)) fail(path, "tensor '" + k->text + "' appears twice");
    header.tensors.emplace(k->text, tensor_info(*v, k->text, zip, prefix, path));
  }
  return header;
}

}  // namespace ftdr::torchbe
