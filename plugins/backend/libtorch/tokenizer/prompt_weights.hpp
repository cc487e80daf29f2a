// tokenizer/prompt_weights.hpp: AUTOMATIC1111's emphasis syntax, prompt text -> (text, weight) runs.
//
//   auto runs = parse_prompt_attention("a (((house:1.3)) [on] a hill", "prompt");
//   // {"a ", 1.0}, {"house", 1.573}, {" ", 1.1}, {"on", 1.0}, {" a hill", 1.0}
//
// The rules are A1111's modules/prompt_parser.py parse_prompt_attention, fact for fact (docs/prompts.md
// writes them out): "(x)" multiplies x's weight by 1.1, "[x]" by 1/1.1, "(x:w)" by w; nesting multiplies;
// "\(" "\)" "\[" "\]" "\\" are the literal characters and a lone "\" vanishes; an unmatched ")" or "]"
// is text; brackets still open at the end apply to everything after them (round ones first, then
// square ones); a "BREAK" word outside brackets, with the blanks around it, becomes the run
// {"BREAK", -1.0} (is_break()); neighbouring runs of equal weight are merged; no runs gives {"", 1.0}.
// Matching happens on code points with Python's classes (\s = str.isspace, \d = Unicode decimal
// digits, \w = letters, numbers and "_"); invalid UTF-8 decodes to U+FFFD.
//
// Where A1111 raises (a weight float() cannot read, like "(x:1.2.3)") or would compute with
// infinities (a weight or product of weights past float32's range), this throws
// sdk::Error(invalid_request) naming `field` and the weight. No libtorch: fuzzed on its own.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace ftdr::torchbe {

struct PromptRun {
  std::string text;  // UTF-8
  double weight = 1.0;

  // A1111's chunk separator: exactly this text with exactly this weight (a BREAK inside brackets
  // has another weight and stays the word "BREAK").
  bool is_break() const { return text == "BREAK" && weight == -1.0; }
  bool operator==(const PromptRun& o) const { return text == o.text && weight == o.weight; }
};

std::vector<PromptRun> parse_prompt_attention(std::string_view prompt, const std::string& field);

}  // namespace ftdr::torchbe
