// lora/lora_scope.hpp: the LoRAs of one request, for the phases of the libtorch backend.
//
//   [backend.libtorch]
//   lora_dir = "models/loras"   # <lora:NAME:...> reads <lora_dir>/NAME.safetensors
//
//   sdk::GenerationRequest r = without_lora_tags(params.request);   // what the tokenizer sees
//   LoraScope loras(params.request.prompt, config.lora_dir, model, LoraStage::text_encoders);
//   ... encode ...                                  // the text encoder has the LoRAs' deltas
//   // scope ends: the weights are the loaded ones again, bit for bit
//
// A job's LoRAs come from the `<lora:...>` tags of its prompt (lora/lora_tags.hpp; hosts render a
// request's "loras" list as such tags). encode() applies them to the text encoder(s) with their
// text encoder weights, denoise() to the UNet with their UNet weights, each for the length of the
// phase: nothing stays changed between phases, so a retry, a resumed checkpoint, a cancelled or
// failed job and the next job all find the loaded weights. check_loras() (validate) reads and matches
// every file against the whole model first, so a bad name or file fails before any work.
//
// Names: NAME must be a file name (no '/', '\', '..'); NAME.safetensors must exist in lora_dir.
// Errors (sdk::Error invalid_request): no lora_dir configured; a name not found (the folder's LoRA
// names listed); and those of lora_file.hpp, lora_patch.hpp and lora_tags.hpp.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "ftdr/sdk/types.hpp"
#include "lora/lora_patch.hpp"
#include "lora/lora_tags.hpp"
#include "pipeline/loaded_model.hpp"

namespace ftdr::torchbe {

enum class LoraStage { text_encoders, unet };

// The request with the tags cut out of its prompt (the negative prompt keeps any: A1111 reads tags
// in the prompt only).
sdk::GenerationRequest without_lora_tags(const sdk::GenerationRequest& request);

// The files the tags name, opened (headers only) from lora_dir.
std::vector<LoraUse> open_loras(const std::vector<LoraTag>& tags, const std::string& lora_dir);

// The model's networks a LoRA may change (SDXL adds "text_encoder_2" here).
LoraComponents lora_components(const LoadedModel& model);

// Everything a job's LoRAs could get wrong, without computing: tags, names, files, keys, shapes.
void check_loras(const std::string& prompt, const std::string& lora_dir, const LoadedModel& model);

class LoraScope {
 public:
  LoraScope(const std::string& prompt, const std::string& lora_dir, LoadedModel& model, LoraStage stage);
  bool active() const { return patch_.has_value(); }

 private:
  std::vector<LoraUse> uses_;  // the patch's targets point into these
  std::optional<LoraPatch> patch_;
};

}  // namespace ftdr::torchbe
