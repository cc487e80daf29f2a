// lora/lora_tags.cpp: see lora_tags.hpp.
#include "lora/lora_tags.hpp"

#include <cmath>
#include <cstdlib>
#include <map>

#include "ftdr/sdk/error.hpp"
#include "tokenizer/unicode_classes.hpp"

namespace ftdr::torchbe {
namespace {

bool is_word(char32_t c) { return c == U'_' || unicode::is_letter(c) || unicode::is_number(c); }

// The end of a tag starting at `at` ('<'), or npos: `<(\w+):([^>]+)>`.
std::size_t tag_end(const std::u32string& s, std::size_t at) {
  std::size_t i = at + 1;
  while (i < s.size() && is_word(s[i])) ++i;
  if (i == at + 1 || i >= s.size() || s[i] != U':') return std::u32string::npos;
  const std::size_t close = s.find(U'>', i + 1);
  if (close == std::u32string::npos || close == i + 1) return std::u32string::npos;
  return close + 1;
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out{""};
  for (char c : s) {
    if (c == sep)
      out.emplace_back();
    else
      out.back() += c;
  }
  return out;
}

[[noreturn]] void refuse(const std::string& field, const std::string& tag, const std::string& what) {
  throw sdk::Error(sdk::ErrorKind::invalid_request, field + ": " + tag + ": " + what);
}

// Python's float() for decimal text: sign, digits with at most one '.', optional exponent, blanks
// around. Infinities and NaN are refused (A1111 would compute with them).
bool parse_weight(const std::string& text, double& out) {
  const std::u32string s = unicode::decode_utf8(text);
  std::size_t b = 0, e = s.size();
  while (b < e && unicode::is_space(s[b])) ++b;
  while (e > b && unicode::is_space(s[e - 1])) --e;
  std::string t = unicode::encode_utf8(s.substr(b, e - b));
  std::size_t i = (!t.empty() && (t[0] == '+' || t[0] == '-')) ? 1 : 0;
  std::size_t digits = 0;
  while (i < t.size() && t[i] >= '0' && t[i] <= '9') ++i, ++digits;
  if (i < t.size() && t[i] == '.') {
    ++i;
    while (i < t.size() && t[i] >= '0' && t[i] <= '9') ++i, ++digits;
  }
  if (digits == 0) return false;
  if (i < t.size() && (t[i] == 'e' || t[i] == 'E')) {
    ++i;
    if (i < t.size() && (t[i] == '+' || t[i] == '-')) ++i;
    std::size_t exp_digits = 0;
    while (i < t.size() && t[i] >= '0' && t[i] <= '9') ++i, ++exp_digits;
    if (exp_digits == 0) return false;
  }
  if (i != t.size()) return false;
  out = std::strtod(t.c_str(), nullptr);
  return std::isfinite(out);
}

double weight(const std::string& text, const std::string& field, const std::string& tag) {
  double w = 0;
  if (!parse_weight(text, w)) refuse(field, tag, "weight \"" + text + "\" is not a finite number");
  return w;
}

void check_name(const std::string& name, const std::string& field, const std::string& tag) {
  if (name.empty()) refuse(field, tag, "expected <lora:name> or <lora:name:weight>");
  if (name.find('/') != std::string::npos || name.find('\\') != std::string::npos ||
      name.find("..") != std::string::npos || name.find('\0') != std::string::npos)
    refuse(field, tag,
           "LoRA name \"" + name + "\" must be a file name inside lora_dir (no '/', '\\' or '..')");
}

LoraTag parse_lora(const std::string& type, const std::string& args, const std::string& field) {
  LoraTag out;
  out.tag = "<" + type + ":" + args + ">";
  std::vector<std::string> positional;
  std::map<std::string, std::string> named;
  for (const std::string& item : split(args, ':')) {
    const std::vector<std::string> parts = split(item, '=');
    if (parts.size() == 2)
      named[parts[0]] = parts[1];
    else
      positional.push_back(item);
  }
  if (positional.empty()) refuse(field, out.tag, "expected <lora:name> or <lora:name:weight>");
  if (positional.size() > 3)
    refuse(field, out.tag,
           "expected at most <lora:name:te_weight:unet_weight> (A1111's dyn is not supported)");
  out.name = positional[0];
  check_name(out.name, field, out.tag);
  out.te_scale = positional.size() > 1 ? weight(positional[1], field, out.tag) : 1.0;
  if (auto it = named.find("te"); it != named.end()) out.te_scale = weight(it->second, field, out.tag);
  out.unet_scale = positional.size() > 2 ? weight(positional[2], field, out.tag) : out.te_scale;
  if (auto it = named.find("unet"); it != named.end()) out.unet_scale = weight(it->second, field, out.tag);
  for (const auto& [key, value] : named)
    if (key != "te" && key != "unet")
      refuse(field, out.tag, "unknown argument \"" + key + "=\" (expected te= or unet=)");
  return out;
}

}  // namespace

LoraTags extract_lora_tags(const std::string& prompt, const std::string& field) {
  LoraTags out;
  if (prompt.find('<') == std::string::npos) {
    out.text = prompt;
    return out;
  }
  const std::u32string s = unicode::decode_utf8(prompt);
  std::u32string text;
  for (std::size_t i = 0; i < s.size();) {
    const std::size_t end = s[i] == U'<' ? tag_end(s, i) : std::u32string::npos;
    if (end == std::u32string::npos) {
      text += s[i++];
      continue;
    }
    const std::size_t colon = s.find(U':', i);
    const std::string type = unicode::encode_utf8(s.substr(i + 1, colon - i - 1));
    const std::string args = unicode::encode_utf8(s.substr(colon + 1, end - colon - 2));
    if (type != "lora" && type != "lyco")
      refuse(field, "<" + type + ":" + args + ">", "only <lora:...> extra networks are supported");
    out.loras.push_back(parse_lora(type, args, field));
    i = end;
  }
  out.text = out.loras.empty() ? prompt : unicode::encode_utf8(text);
  return out;
}

}  // namespace ftdr::torchbe
