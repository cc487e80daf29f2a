// lora/lora_file.hpp: the layers of a LoRA .safetensors file, in the formats people download.
//
//   LoraFile f = read_lora_file("loras/ink.safetensors");
//   for (const LoraLayer& l : f.layers) ...   // l.component "unet", l.module "down_blocks_0_..."
//
// Formats (one key table, kPrefixes in lora_file.cpp; SDXL's components slot in there):
//   kohya / A1111   lora_unet_<module path, '.' -> '_'>.lora_down.weight / .lora_up.weight / .alpha
//                   lora_te_ (SD 1.x/2.x text encoder), lora_te1_ / lora_te2_ (SDXL's two);
//                   scale alpha / rank (rank = lora_down's first dimension), 1 without .alpha
//   diffusers/PEFT  unet.<module path>.lora_A.weight / .lora_B.weight, text_encoder.<...>,
//                   text_encoder_2.<...>; the older .lora.down.weight / .lora.up.weight and
//                   .lora_linear_layer.down.weight / .up.weight; scale 1 (diffusers 0.31 reads no alpha)
// Layers: Linear (down [r, in], up [out, r]), convolutions (down [r, in, kh, kw], up [out, r, 1, 1]:
// 1x1 convs and kohya's "LoCon" kxk convs).
// Errors are sdk::Error(invalid_request) starting "LoRA <file name>: ": a file that is not a valid
// safetensors file (truncated, bad header), keys in no format above (listed, a few), a down without
// its up or the other way round, an alpha that is not one finite number.
#pragma once
#include <filesystem>
#include <string>
#include <vector>

#include "io/safetensors.hpp"

namespace ftdr::torchbe {

struct LoraLayer {
  std::string component;  // "unet", "text_encoder", "text_encoder_2"
  std::string module;     // kohya: the path with '_' for '.'; diffusers: the dotted path
  bool underscored = false;
  std::string prefix;  // the key prefix it came with ("lora_te_", "unet."), for messages
  std::string down_key, up_key;
  double alpha_over_rank = 1.0;  // kohya alpha / rank; 1 without alpha
  // "SDXL" when the prefix is SDXL's (lora_te1_, lora_te2_, text_encoder_2.): the model must have
  // a second text encoder; "" otherwise.
  std::string needs;
};

struct LoraFile {
  std::string name;  // the file name, for messages
  SafeTensorsFile file;
  std::vector<LoraLayer> layers;
};

LoraFile read_lora_file(const std::filesystem::path& path);

}  // namespace ftdr::torchbe
