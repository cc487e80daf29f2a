// io/safetensors.hpp: read and write the .safetensors format (memory-mapped, validated).
//
// Format: 8-byte little-endian header length N, N bytes of JSON
// {"__metadata__": {...}, "<name>": {"dtype": "F32", "shape": [...], "data_offsets": [b, e]}, ...},
// then the raw little-endian data (offsets relative to the start of the data).
//
//   auto file = SafeTensorsFile::open(dir / "unet" / "diffusion_pytorch_model.safetensors");
//   at::Tensor w = file.load("conv_in.weight", at::kFloat);
//
// open() maps the file read-only and validates the whole header up front (safetensors_header.h): a
// truncated file, a header length past the end, bad JSON, an unknown dtype, offsets out of range or
// overlapping, or shape x dtype size != byte length is an sdk::Error(model_error) naming the file
// and the tensor key.
// Tensors are copied out of the mapping on load(), so returned tensors never alias the file; the
// pages copied from are then given back (madvise MADV_DONTNEED), so loading a model keeps one copy
// of the weights in memory, not the weights plus the file (a file mapping's pages count as RSS).
#pragma once
#include <ATen/ATen.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "io/safetensors_header.hpp"

namespace ftdr::torchbe {

class SafeTensorsFile {
 public:
  using TensorInfo = SafeTensorsTensorInfo;  // dtype, shape, [begin, end) in the data section

  // Maps and validates the file; throws sdk::Error(model_error) naming the path on any problem.
  static SafeTensorsFile open(const std::filesystem::path& path);
  // The same with another reader of the mapped bytes (a .ckpt: io/pickle_checkpoint.hpp), whose
  // tensors' [begin, end) are relative to bytes + data_offset.
  using HeaderParser = SafeTensorsHeader (*)(const uint8_t* bytes, size_t size,
                                             const std::filesystem::path& path);
  static SafeTensorsFile open(const std::filesystem::path& path, HeaderParser parser);

  const std::filesystem::path& path() const { return path_; }
  // Tensor names, sorted by name (never "__metadata__").
  std::vector<std::string> keys() const;
  bool contains(const std::string& key) const;
  // Throws model_error naming the file and the key when absent.
  const TensorInfo& info(const std::string& key) const;
  // The "__metadata__" string map (empty when absent).
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

  // Copies the tensor out of the mapping and converts it to `dtype`. Supported stored dtypes:
  // F32, F16, BF16, F64, I64, I32, I16, I8, U8, BOOL (others throw model_error naming file and key). Result
  // is contiguous, CPU.
  at::Tensor load(const std::string& key, at::ScalarType dtype) const;
  // Same, keeping the stored dtype.
  at::Tensor load(const std::string& key) const;
  // Rows [part * n / parts, (part + 1) * n / parts) of dimension 0 (n divisible by parts), stored
  // dtype: a fused tensor's piece without copying the rest (OpenCLIP's in_proj holds q, k, v).
  at::Tensor load_rows(const std::string& key, int64_t part, int64_t parts) const;

 private:
  struct Mapping;
  std::filesystem::path path_;
  std::shared_ptr<const Mapping> mapping_;  // shared: copies of a SafeTensorsFile share one mmap
  std::map<std::string, TensorInfo> tensors_;
  std::map<std::string, std::string> metadata_;
  const uint8_t* data_ = nullptr;  // start of the data section inside the mapping
};

// Writes tensors (any device; copied to CPU, contiguous) in the standard layout, tensors ordered by
// name, header padded with spaces to a multiple of 8. Supported dtypes: float32, float16, bfloat16,
// int64. Writes to "<path>.tmp" then renames, so a crash never leaves a half-written file.
// Throws sdk::Error(internal) naming the path when the file cannot be written.
void save_safetensors(const std::filesystem::path& path,
                      const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata = {{"format", "pt"}});

// "F32" etc. for a scalar type; throws model_error for types the format does not name.
std::string safetensors_dtype_name(at::ScalarType type);

}  // namespace ftdr::torchbe
