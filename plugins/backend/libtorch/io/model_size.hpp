// io/model_size.hpp: a model's size from its configs alone, checked before any module is allocated.
//
//   ModelFolder folder = read_model_folder(dir);
//   check_model_size(folder, at::kFloat);   // before UNet2DConditionModel(folder.unet) etc.
//
// The counts are exact: the number of values (parameters and buffers) that the networks built from
// these configs hold, which the strict weight loader requires the safetensors file to hold too. So a
// config that does not belong to its weights (a huge layers_per_block, a channel count off by a
// factor) is refused from the file headers, and a model whose weights cannot fit in the memory
// available is refused before allocating, instead of allocating until the host runs out of memory.
// Both are sdk::Error(model_error) naming the config file and the weights file.
#pragma once
#include <ATen/ATen.h>

#include <cstdint>
#include <string>
#include <vector>

#include "io/model_folder.hpp"

namespace ftdr::torchbe {

// Floating-point values (parameters) and 64-bit integer buffers of one network.
struct NetworkSize {
  std::uint64_t floats = 0;
  std::uint64_t int64s = 0;  // CLIP's position_ids
  std::uint64_t values() const { return floats + int64s; }
  std::uint64_t bytes(at::ScalarType dtype) const { return floats * at::elementSize(dtype) + int64s * 8; }
};

NetworkSize network_size(const UNetConfig& c);
NetworkSize network_size(const VaeConfig& c);
NetworkSize network_size(const CLIPTextConfig& c);

// One network as the check sees it: its config file, its weights file and its size from the config.
struct ComponentSize {
  std::string config_file;
  std::string weights_file;  // empty: not counted (a single file's networks share it)
  NetworkSize size;
};

std::vector<ComponentSize> component_sizes(const ModelFolder& folder);

// Every weights file holds exactly the values its config describes, and the three networks fit
// in `available_bytes` at `dtype`; model_error naming the files otherwise.
void check_component_sizes(const std::vector<ComponentSize>& components, at::ScalarType dtype,
                           std::uint64_t available_bytes);

// The same, with the host's available memory (MemAvailable).
void check_model_size(const ModelFolder& folder, at::ScalarType dtype);

}  // namespace ftdr::torchbe
