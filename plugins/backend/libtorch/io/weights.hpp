// io/weights.hpp: strict loading of a module's parameters and buffers from a safetensors file.
//
//   UNet2DConditionModel unet(folder.unet);
//   load_module_weights(*unet, SafeTensorsFile::open(folder.unet_weights), at::kFloat);
//
// Every parameter and buffer of the module (named as named_parameters()/named_buffers() name them,
// with `prefix` prepended) must be in the file with the same shape, and the file must hold no other
// tensor under `prefix`. Missing, unexpected and shape-mismatched keys are collected and reported
// together in ONE sdk::Error(model_error) that names the file, every key and both shapes.
// Floating-point tensors are converted to `dtype`; integer buffers (e.g. position_ids) keep theirs.
// Values are copied into the existing tensors (no re-registration), under NoGradGuard.
#pragma once
#include <torch/nn.h>

#include <string>

#include "io/safetensors.hpp"

namespace ftdr::torchbe {

void load_module_weights(torch::nn::Module& module, const SafeTensorsFile& file, at::ScalarType dtype,
                         const std::string& prefix = "");

}  // namespace ftdr::torchbe
