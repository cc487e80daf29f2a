// UTF-8 and control-character checks (see text_checks.hpp).
#include "text_checks.hpp"

#include <cstdio>

namespace ftdr::framework {
namespace {

std::string hex_byte(unsigned char c) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "0x%02x", c);
  return buf;
}

std::string code_point(char32_t c) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "U+%04X", static_cast<unsigned>(c));
  return buf;
}

// Decodes the UTF-8 sequence at text[i]; returns its length, or 0 when it is not valid UTF-8
// (overlong forms, surrogates and code points past U+10FFFF included).
std::size_t decode(const std::string& text, std::size_t i, char32_t& out) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
  // Per lead byte: the sequence length, the smallest code point that needs it, the payload bits.
  struct Form {
    unsigned char mask, value;
    std::size_t length;
    char32_t min;
  };
  static constexpr Form kForms[] = {
      {0x80, 0x00, 1, 0}, {0xe0, 0xc0, 2, 0x80}, {0xf0, 0xe0, 3, 0x800}, {0xf8, 0xf0, 4, 0x10000}};
  const unsigned char lead = byte(i);
  const Form* form = nullptr;
  for (const Form& f : kForms)
    if ((lead & f.mask) == f.value) form = &f;
  if (!form) return 0;
  const std::size_t length = form->length;
  const char32_t min = form->min;
  out = lead & static_cast<unsigned char>(~form->mask & 0xff);
  if (i + length > text.size()) return 0;
  for (std::size_t k = 1; k < length; ++k) {
    if ((byte(i + k) & 0xc0) != 0x80) return 0;
    out = (out << 6) | (byte(i + k) & 0x3f);
  }
  if (out < min || out > 0x10ffff || (out >= 0xd800 && out <= 0xdfff)) return 0;
  return length;
}

bool is_control(char32_t c) { return c < 0x20 || (c >= 0x7f && c <= 0x9f); }

}  // namespace

std::optional<std::string> text_problem(const std::string& text, TextKind kind) {
  for (std::size_t i = 0; i < text.size();) {
    char32_t c = 0;
    const std::size_t length = decode(text, i, c);
    if (length == 0)
      return "an invalid UTF-8 byte " + hex_byte(static_cast<unsigned char>(text[i])) + " at byte " +
             std::to_string(i);
    const bool allowed = kind == TextKind::prompt && (c == '\t' || c == '\n' || c == '\r');
    if (is_control(c) && !allowed)
      return "control character " + code_point(c) + " at byte " + std::to_string(i);
    i += length;
  }
  return std::nullopt;
}

}  // namespace ftdr::framework
