// lora/lora_patch.hpp: LoRA layers matched to the model's weights, and applied for one phase.
//
//   std::vector<LoraTarget> t = resolve_loras(uses, components, {"unet"});  // checks everything
//   {
//     LoraPatch patch(t);   // each targeted weight W is now W + sum(scale * alpha/rank * up @ down)
//     ... run the UNet ...
//   }                       // every W is back: the same tensor data, bit for bit
//
// Matching is against the model's own parameter names, not guessed: a kohya layer's module
// (`down_blocks_0_attentions_0_proj_in`) is looked up among the underscore forms of every module
// path that has a `.weight` (a form two paths share matches neither), a diffusers layer's dotted path
// directly. Shapes come from the files' headers, so resolve_loras reads no tensor data.
//
// Why a swap and not an in-place merge: W + d - d is not W in f16 (nor always in f32), so the weights
// would drift job after job. LoraPatch computes each new weight in float32 (the original cast up,
// plus every LoRA's delta in turn, the order diffusers' fuse_lora adds them), casts it once to the
// weight's dtype and swaps it in with set_data(); the original tensor is kept and swapped back by the
// destructor, on success, on an exception and on cancellation alike. While a patch is held, the
// targeted weights exist twice (original and patched).
//
// Errors (sdk::Error invalid_request, "LoRA <file name>: ..."): a layer whose module the model does
// not have (the first few listed; "none of its N layers" when nothing matches), layers of SDXL's text
// encoders for a model with one, and a layer whose up @ down does not have the weight's shape (the
// key, both LoRA shapes, the weight's name and shape).
#pragma once
#include <ATen/ATen.h>
#include <torch/nn.h>

#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "lora/lora_file.hpp"

namespace ftdr::torchbe {

// The networks a LoRA may change, by the component names of lora_file.hpp ("unet", "text_encoder",
// and "text_encoder_2" for SDXL).
using LoraComponents = std::map<std::string, const torch::nn::Module*>;

struct LoraUse {
  LoraFile file;
  double te_scale = 1.0;  // text encoders
  double unet_scale = 1.0;
};

struct LoraTerm {
  const LoraFile* file;
  const LoraLayer* layer;
  double scale;  // the use's scale times the layer's alpha / rank
};

struct LoraTarget {
  std::string name;  // "<component>.<parameter name>"
  at::Tensor weight;
  std::vector<LoraTerm> terms;
};

// Every layer of every use is checked against every component; targets are returned for the
// components named in `apply_to` only (a phase changes its own network).
std::vector<LoraTarget> resolve_loras(const std::vector<LoraUse>& uses, const LoraComponents& components,
                                      const std::set<std::string>& apply_to);

class LoraPatch {
 public:
  explicit LoraPatch(const std::vector<LoraTarget>& targets);
  ~LoraPatch();
  LoraPatch(const LoraPatch&) = delete;
  LoraPatch& operator=(const LoraPatch&) = delete;

 private:
  void restore() noexcept;
  std::vector<std::pair<at::Tensor, at::Tensor>> swapped_;  // the parameter, its original data
};

}  // namespace ftdr::torchbe
