// io/safetensors_header.hpp: the validated header of a .safetensors file, parsed without libtorch.
//
// The first 8 bytes are the little-endian header length N, then N bytes of JSON:
// {"__metadata__": {...}, "<name>": {"dtype": "F32", "shape": [...], "data_offsets": [b, e]}, ...},
// then the data. SafeTensorsFile (safetensors.h) maps a file and parses it here; the fuzzer
// (fuzz/safetensors_header_fuzzer.cpp) calls this directly, so it needs no libtorch.
//
//   SafeTensorsHeader h = parse_safetensors_header(bytes, size, path);  // model_error naming path
//   h.tensors.at("conv_in.weight").begin;  // relative to bytes + h.data_offset
#pragma once
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace ftdr::torchbe {

struct SafeTensorsTensorInfo {
  std::string dtype;  // "F32", "F16", "BF16", "I64", ... as written in the header
  std::vector<int64_t> shape;
  uint64_t begin = 0, end = 0;  // byte offsets relative to the start of the data section
};

struct SafeTensorsHeader {
  std::map<std::string, SafeTensorsTensorInfo> tensors;  // never "__metadata__"
  std::map<std::string, std::string> metadata;           // "__metadata__" (empty when absent)
  uint64_t data_offset = 0;                              // 8 + N: where the data section starts
};

// Validates the whole header of the file's bytes [bytes, bytes + size): a truncated file, a header
// length past the end, bad JSON, an unknown dtype, offsets out of range or overlapping, or
// shape x dtype size != byte length is an sdk::Error(model_error) naming `path` and the tensor key.
// On success every tensor's [begin, end) lies inside the data section and has exactly
// product(shape) x element size bytes.
SafeTensorsHeader parse_safetensors_header(const uint8_t* bytes, size_t size,
                                           const std::filesystem::path& path);

// Bytes per element of a stored dtype name; 0 for names the format does not define.
size_t safetensors_element_size(const std::string& dtype);

// The error every safetensors problem is: sdk::Error(model_error) "safetensors file <path>: <what>",
// and with a key "safetensors file <path>: tensor '<key>': <what>".
[[noreturn]] void safetensors_fail(const std::filesystem::path& path, const std::string& what);
[[noreturn]] void safetensors_fail(const std::filesystem::path& path, const std::string& key,
                                   const std::string& what);

}  // namespace ftdr::torchbe
