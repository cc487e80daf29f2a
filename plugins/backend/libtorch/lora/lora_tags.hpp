// lora/lora_tags.hpp: AUTOMATIC1111's extra-network tags in a prompt, `<lora:name:0.8>`.
//
//   LoraTags t = extract_lora_tags("a cat <lora:ink:0.8>, night", "prompt");
//   // t.text == "a cat , night"; t.loras == {{"ink", 0.8, 0.8, "<lora:ink:0.8>"}}
//
// The rules are A1111's (modules/extra_networks.py, parse_prompt; extensions-builtin/Lora/
// extra_networks_lora.py, activate), read before any other prompt syntax and under both
// prompt_syntax settings:
//   - a tag is `<`, a type of one or more word characters (letters, numbers, `_`), `:`, one or more
//     characters other than `>`, `>` (re `<(\w+):([^>]+)>`); every tag is cut out of the text (an
//     empty string in its place), left to right;
//   - its arguments are split at every `:`; an argument with exactly one `=` is named (`te=0.5`),
//     any other is positional. Positional: name, text encoder weight (default 1), UNet weight
//     (default the text encoder weight). Named `te` and `unet` override those;
//   - a weight is a number as Python's float() reads it, without infinities and NaN; blanks around
//     it are ignored.
// Differences, each an sdk::Error(invalid_request) naming the field and the tag, where A1111 would
// log and go on: a type other than `lora` (or its alias `lyco`), a tag without a name, a name that
// could leave the LoRA folder (`/`, `\`, `..`), `dyn` (A1111's dynamic dimension), another named
// argument, more than three positional arguments, a weight that is not a finite number.
#pragma once
#include <string>
#include <vector>

namespace ftdr::torchbe {

struct LoraTag {
  std::string name;         // file name in lora_dir without ".safetensors"
  double te_scale = 1.0;    // text encoder weight
  double unet_scale = 1.0;  // UNet weight
  std::string tag;          // as written, for messages
};

struct LoraTags {
  std::string text;  // the prompt without its tags (the input unchanged when it has none)
  std::vector<LoraTag> loras;
};

LoraTags extract_lora_tags(const std::string& prompt, const std::string& field);

}  // namespace ftdr::torchbe
