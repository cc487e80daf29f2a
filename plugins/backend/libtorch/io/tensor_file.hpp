// io/tensor_file.hpp: open a weights file by its contents: .safetensors, or a PyTorch .ckpt/.pt
// zip archive read by the restricted unpickler (io/pickle_checkpoint.hpp).
//
//   SafeTensorsFile file = open_tensor_file("model.ckpt");   // same interface for both
//
// Errors are sdk::Error(model_error) naming the path.
#pragma once
#include <filesystem>

#include "io/safetensors.hpp"

namespace ftdr::torchbe {

SafeTensorsFile open_tensor_file(const std::filesystem::path& path);

}  // namespace ftdr::torchbe
