// tokenizer/prompt_weights.cpp: A1111's emphasis parser (Ref: AUTOMATIC1111/stable-diffusion-webui
// modules/prompt_parser.py, parse_prompt_attention, re_attention and re_break).
#include "tokenizer/prompt_weights.hpp"

#include <cfloat>
#include <charconv>
#include <cmath>
#include <cstdio>

#include "ftdr/sdk/error.hpp"
#include "tokenizer/unicode_classes.hpp"

namespace ftdr::torchbe {
namespace {

using unicode::is_space;

constexpr double kRoundMultiplier = 1.1;
constexpr double kSquareMultiplier = 1 / 1.1;  // A1111 multiplies by this, not divides by 1.1
const std::u32string kBreak = U"BREAK";

// The "0" of every block of Unicode decimal digits (category Nd, ten in a row, Unicode 14.0):
// Python's \d matches them all and float() reads them as 0..9.
constexpr char32_t kDigitZeros[] = {
    0x30,    0x660,   0x6f0,   0x7c0,   0x966,   0x9e6,   0xa66,   0xae6,   0xb66,   0xbe6,   0xc66,
    0xce6,   0xd66,   0xde6,   0xe50,   0xed0,   0xf20,   0x1040,  0x1090,  0x17e0,  0x1810,  0x1946,
    0x19d0,  0x1a80,  0x1a90,  0x1b50,  0x1bb0,  0x1c40,  0x1c50,  0xa620,  0xa8d0,  0xa900,  0xa9d0,
    0xa9f0,  0xaa50,  0xabf0,  0xff10,  0x104a0, 0x10d30, 0x11066, 0x110f0, 0x11136, 0x111d0, 0x112f0,
    0x11450, 0x114d0, 0x11650, 0x116c0, 0x11730, 0x118e0, 0x11950, 0x11c50, 0x11d50, 0x11da0, 0x16a60,
    0x16ac0, 0x16b50, 0x1d7ce, 0x1d7d8, 0x1d7e2, 0x1d7ec, 0x1d7f6, 0x1e140, 0x1e2f0, 0x1e950, 0x1fbf0};

int decimal_value(char32_t cp) {
  for (char32_t zero : kDigitZeros)
    if (cp >= zero && cp < zero + 10) return static_cast<int>(cp - zero);
  return -1;
}

// Python's \w on str: letters, numbers and the underscore.
bool is_word(char32_t cp) { return cp == U'_' || unicode::is_letter(cp) || unicode::is_number(cp); }

bool is_syntax(char32_t cp) {
  return cp == U'\\' || cp == U'(' || cp == U')' || cp == U'[' || cp == U']' || cp == U':';
}

bool is_escapable(char32_t cp) { return cp == U'(' || cp == U')' || cp == U'[' || cp == U']' || cp == U'\\'; }

std::string shown(double w) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", w);
  return buf;
}

struct Run {
  std::u32string text;
  double weight;
};

class AttentionParser {
 public:
  AttentionParser(const std::u32string& s, const std::string& field) : s_(s), field_(field) {}

  std::vector<Run> parse() {
    while (pos_ < s_.size()) step();
    for (std::size_t start : round_) multiply_range(start, kRoundMultiplier);
    for (std::size_t start : square_) multiply_range(start, kSquareMultiplier);
    if (res_.empty()) res_.push_back({U"", 1.0});
    return std::move(res_);
  }

 private:
  // One re_attention match at pos_, handled as parse_prompt_attention's if/elif chain does.
  void step() {
    const char32_t c = s_[pos_];
    if (c == U'\\') return escape();
    if (c == U'(') return push_open(round_);
    if (c == U'[') return push_open(square_);
    if (c == U':') return colon();
    if (c == U')') return close(round_, kRoundMultiplier, U")");
    if (c == U']') return close(square_, kSquareMultiplier, U"]");
    const std::size_t start = pos_;
    while (pos_ < s_.size() && !is_syntax(s_[pos_])) ++pos_;
    add_text(std::u32string_view(s_).substr(start, pos_ - start));
  }

  // "\(" "\)" "\[" "\]" "\\" give the character; a lone "\" gives "" (text[1:] of the match "\").
  void escape() {
    const bool pair = pos_ + 1 < s_.size() && is_escapable(s_[pos_ + 1]);
    res_.push_back({pair ? std::u32string(1, s_[pos_ + 1]) : U"", 1.0});
    pos_ += pair ? 2 : 1;
  }

  void push_open(std::vector<std::size_t>& stack) {
    stack.push_back(res_.size());
    ++pos_;
  }

  void close(std::vector<std::size_t>& stack, double multiplier, const char32_t* unmatched) {
    ++pos_;
    if (stack.empty()) return add_text(unmatched);
    const std::size_t start = stack.back();
    stack.pop_back();
    multiply_range(start, multiplier);
  }

  // ":" starts ":\s*([+-]?[.\d]+)\s*\)" when it can, else it is the text ":".
  void colon() {
    const std::size_t start = pos_;
    std::size_t i = pos_ + 1;
    while (i < s_.size() && is_space(s_[i])) ++i;
    const std::size_t number_start = i;
    if (i < s_.size() && (s_[i] == U'+' || s_[i] == U'-')) ++i;
    const std::size_t digits_start = i;
    while (i < s_.size() && (s_[i] == U'.' || decimal_value(s_[i]) >= 0)) ++i;
    const std::size_t number_end = i;
    while (i < s_.size() && is_space(s_[i])) ++i;
    if (digits_start == number_end || i == s_.size() || s_[i] != U')') {
      ++pos_;
      return add_text(U":");
    }
    pos_ = i + 1;
    const std::u32string_view all = std::u32string_view(s_).substr(start, pos_ - start);
    if (round_.empty()) return add_text(all);  // the weight is not read then (no float() call)
    const double weight =
        read_weight(std::u32string_view(s_).substr(number_start, number_end - number_start));
    const std::size_t open = round_.back();
    round_.pop_back();
    multiply_range(open, weight);
  }

  // Python's float() on [+-]?[.\d]+: at most one ".", at least one digit.
  double read_weight(std::u32string_view number) const {
    std::string ascii;
    bool negative = false, digit = false, nonzero_int = false, after_dot = false;
    int dots = 0;
    for (char32_t cp : number) {
      if (cp == U'+' || cp == U'-') {
        negative = cp == U'-';
        continue;
      }
      if (cp == U'.') {
        ++dots;
        after_dot = true;
        ascii += '.';
        continue;
      }
      const int v = decimal_value(cp);
      digit = true;
      nonzero_int = nonzero_int || (!after_dot && v > 0);
      ascii += static_cast<char>('0' + v);
    }
    const std::string text = unicode::encode_utf8(std::u32string(number));
    if (dots > 1 || !digit)
      throw sdk::Error(
          sdk::ErrorKind::invalid_request,
          field_ + ": emphasis weight \"" + text + "\" is not a number (expected e.g. \"(word:1.3)\")");
    double value = 0;
    const auto [end, ec] = std::from_chars(ascii.data(), ascii.data() + ascii.size(), value);
    if (ec == std::errc::result_out_of_range && nonzero_int) too_large(text);
    if (ec == std::errc::result_out_of_range) value = 0;  // below the smallest double: 0, as for float()
    return negative ? -value : value;
  }

  [[noreturn]] void too_large(const std::string& what) const {
    throw sdk::Error(sdk::ErrorKind::invalid_request, field_ + ": emphasis weight " + what +
                                                          " is too large (at most float32's " +
                                                          shown(FLT_MAX) + ", counting nested brackets)");
  }

  void multiply_range(std::size_t start, double multiplier) {
    for (std::size_t p = start; p < res_.size(); ++p) res_[p].weight *= multiplier;
  }

  // re.split(re_break, text): "\s*\bBREAK\b\s*" separates parts with weight 1; each separator is
  // the run ("BREAK", -1).
  void add_text(std::u32string_view text) {
    std::size_t from = 0;
    for (std::size_t k = text.find(kBreak); k != std::u32string_view::npos; k = text.find(kBreak, k + 1)) {
      const std::size_t after = k + kBreak.size();
      if ((k > 0 && is_word(text[k - 1])) || (after < text.size() && is_word(text[after]))) continue;
      std::size_t start = k, end = after;
      while (start > from && is_space(text[start - 1])) --start;
      while (end < text.size() && is_space(text[end])) ++end;
      res_.push_back({std::u32string(text.substr(from, start - from)), 1.0});
      res_.push_back({kBreak, -1.0});
      from = end;
      k = end - 1;  // the next search starts at end
    }
    res_.push_back({std::u32string(text.substr(from)), 1.0});
  }

  const std::u32string& s_;
  const std::string& field_;
  std::size_t pos_ = 0;
  std::vector<Run> res_;
  std::vector<std::size_t> round_, square_;
};

}  // namespace

std::vector<PromptRun> parse_prompt_attention(std::string_view prompt, const std::string& field) {
  const std::u32string text = unicode::decode_utf8(std::string(prompt));
  const std::vector<Run> runs = AttentionParser(text, field).parse();
  // Merge neighbours of equal weight (A1111: "merge runs of identical weights"; 0.0 == -0.0).
  std::vector<PromptRun> out;
  for (const Run& r : runs) {
    if (!out.empty() && out.back().weight == r.weight) {
      out.back().text += unicode::encode_utf8(r.text);
      continue;
    }
    if (!(std::fabs(r.weight) <= FLT_MAX))
      throw sdk::Error(sdk::ErrorKind::invalid_request, field + ": emphasis weight " + shown(r.weight) +
                                                            " of \"" + unicode::encode_utf8(r.text) +
                                                            "\" is too large (at most float32's " +
                                                            shown(FLT_MAX) + ", counting nested brackets)");
    out.push_back({unicode::encode_utf8(r.text), r.weight});
  }
  return out;
}

}  // namespace ftdr::torchbe
