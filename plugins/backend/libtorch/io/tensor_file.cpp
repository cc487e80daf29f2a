// io/tensor_file.cpp: the format is told by the first bytes, not the file name.
#include "io/tensor_file.hpp"

#include <fstream>

#include "io/pickle_checkpoint.hpp"

namespace ftdr::torchbe {

SafeTensorsFile open_tensor_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  uint8_t magic[4] = {0, 0, 0, 0};
  in.read(reinterpret_cast<char*>(magic), sizeof magic);
  if (looks_like_zip(magic, static_cast<size_t>(in.gcount())))
    return SafeTensorsFile::open(path, &parse_pickle_checkpoint);
  return SafeTensorsFile::open(path);  // also names the file when it cannot be opened
}

}  // namespace ftdr::torchbe
