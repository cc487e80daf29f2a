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
  const unsigned char lead = byte(i);
  std::size_t length = 0;
  char32_t min = 0;
  if (lead < 0x80) return out = lead, 1;
  if ((lead & 0xe0) == 0xc0) length = 2, min = 0x80, out = lead & 0x1f;
  else if ((lead & 0xf0) == 0xe0) length = 3, min = 0x800, out = lead & 0x0f;
  else if ((lead & 0xf8) == 0xf0) length = 4, min = 0x10000, out = lead & 0x07;
  else return 0;
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
      return "an invalid UTF-8 byte " + hex_byte(static_cast<unsigned char>(text[i])) + " at byte " + std::to_string(i);
    const bool allowed = kind == TextKind::prompt && (c == '\t' || c == '\n' || c == '\r');
    if (is_control(c) && !allowed) return "control character " + code_point(c) + " at byte " + std::to_string(i);
    i += length;
  }
  return std::nullopt;
}

}  // namespace ftdr::framework
