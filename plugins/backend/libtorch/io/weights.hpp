// io/weights.hpp: strict loading of a module's parameters and buffers from a safetensors file, with
// the keys as they are (a diffusers folder) or renamed (a single-file checkpoint).
//
//   UNet2DConditionModel unet(folder.unet);
//   load_module_weights(*unet, SafeTensorsFile::open(folder.unet_weights), at::kFloat);
//   // a checkpoint: our names -> its names (io/checkpoint_keys.hpp)
//   WeightSource src(file, "model.diffusion_model.", [&](const std::string& k) { return unet_stored_key(k,
//   cfg); }); load_module_weights(*unet, src, at::kFloat);
//
// Every parameter and buffer of the module (named as named_parameters()/named_buffers() name them)
// must be in the file with the same shape, and the file must hold no other tensor under the
// source's prefix (except the keys its `ignored` predicate skips on purpose). Missing, unexpected
// and shape-mismatched keys are collected and reported together in ONE sdk::Error(model_error) that
// names the file, every key (the stored name, and ours when they differ) and both shapes.
// Floating-point tensors are converted to `dtype`; integer buffers (e.g. position_ids) keep theirs.
// Values are copied into the existing tensors (no re-registration), under NoGradGuard, one tensor at
// a time, so memory holds the module plus one tensor (SafeTensorsFile gives the file's pages back).
#pragma once
#include <torch/nn.h>

#include <functional>
#include <string>
#include <vector>

#include "io/checkpoint_keys.hpp"
#include "io/safetensors.hpp"

namespace ftdr::torchbe {

class WeightSource {
 public:
  using Rename = std::function<StoredKey(const std::string& ours)>;
  using Ignored = std::function<bool(const std::string& stored_full_key)>;

  // Keys as they are, under `prefix`.
  WeightSource(SafeTensorsFile file, std::string prefix = "");
  // Keys renamed: ours -> `prefix` + rename(ours).key (an empty key: not stored, ours is missing;
  // except when `optional` says ours may be absent and keeps its built value).
  WeightSource(SafeTensorsFile file, std::string prefix, Rename rename, Ignored ignored = {},
               std::function<bool(const std::string&)> optional = {});

  // This source, also ignoring the stored keys that start with one of `parts` after the prefix
  // ("encoder." for a VAE built without its encoder): they are neither loaded nor unexpected.
  WeightSource ignoring(std::vector<std::string> parts) const;

  const SafeTensorsFile& file() const { return file_; }
  const std::string& prefix() const { return prefix_; }
  StoredKey stored(const std::string& ours) const;
  bool ignored(const std::string& stored_full_key) const { return ignored_ && ignored_(stored_full_key); }
  bool optional(const std::string& ours) const { return optional_ && optional_(ours); }
  // The shape `ours` has when loaded (after the split or 1x1 squeeze); the stored tensor must exist.
  std::vector<int64_t> shape(const StoredKey& k) const;
  at::Tensor load(const StoredKey& k, at::ScalarType dtype) const;

 private:
  SafeTensorsFile file_;
  std::string prefix_;
  Rename rename_;
  Ignored ignored_;
  std::function<bool(const std::string&)> optional_;
};

void load_module_weights(torch::nn::Module& module, const WeightSource& source, at::ScalarType dtype);

// The problems load_module_weights() would throw, as its message ("" when the weights fit), so that
// several networks read from one file can be reported together.
std::string check_module_weights(torch::nn::Module& module, const WeightSource& source);

void load_module_weights(torch::nn::Module& module, const SafeTensorsFile& file, at::ScalarType dtype,
                         const std::string& prefix = "");

}  // namespace ftdr::torchbe
