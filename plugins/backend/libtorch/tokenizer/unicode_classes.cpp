// tokenizer/unicode_classes.cpp: lookups in the generated tables, UTF-8 conversion.
#include "tokenizer/unicode_classes.hpp"

#include <algorithm>

namespace ftdr::torchbe::unicode {

extern const CodePointRange kLetterRanges[];
extern const size_t kLetterRanges_count;
extern const CodePointRange kNumberRanges[];
extern const size_t kNumberRanges_count;
extern const CodePointRange kSpaceRanges[];
extern const size_t kSpaceRanges_count;
extern const LowerPair kLowerPairs[];
extern const size_t kLowerPairs_count;

namespace {

bool in_ranges(const CodePointRange* ranges, size_t count, char32_t cp) {
  const CodePointRange* end = ranges + count;
  // First range whose last >= cp; the ranges are sorted and disjoint.
  auto it = std::lower_bound(ranges, end, cp, [](const CodePointRange& r, char32_t c) { return r.last < c; });
  return it != end && it->first <= cp;
}

constexpr char32_t kReplacement = 0xFFFD;
constexpr char32_t kDottedCapitalI = 0x130;
constexpr char32_t kCombiningDotAbove = 0x307;

}  // namespace

bool is_letter(char32_t cp) { return in_ranges(kLetterRanges, kLetterRanges_count, cp); }
bool is_number(char32_t cp) { return in_ranges(kNumberRanges, kNumberRanges_count, cp); }
bool is_space(char32_t cp) { return in_ranges(kSpaceRanges, kSpaceRanges_count, cp); }

void append_lower(char32_t cp, std::u32string& out) {
  if (cp < 0x80) {
    out.push_back(cp >= 'A' && cp <= 'Z' ? cp + ('a' - 'A') : cp);
    return;
  }
  if (cp == kDottedCapitalI) {
    out.push_back(U'i');
    out.push_back(kCombiningDotAbove);
    return;
  }
  const LowerPair* end = kLowerPairs + kLowerPairs_count;
  auto it =
      std::lower_bound(kLowerPairs, end, cp, [](const LowerPair& p, char32_t c) { return p.upper < c; });
  out.push_back(it != end && it->upper == cp ? it->lower : cp);
}

std::u32string decode_utf8(const std::string& text) {
  std::u32string out;
  out.reserve(text.size());
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  size_t i = 0;
  while (i < n) {
    unsigned char c = s[i];
    int len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (len == 0 || i + len > n) {
      out.push_back(kReplacement);
      ++i;
      continue;
    }
    char32_t cp = len == 1 ? c : c & (0x7F >> len);
    bool ok = true;
    for (int k = 1; k < len; ++k) {
      if ((s[i + k] & 0xC0) != 0x80) ok = false;
      cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    // Reject overlong forms, surrogates and values past U+10FFFF.
    static const char32_t min_for_len[] = {0, 0, 0x80, 0x800, 0x10000};
    if (!ok || cp < min_for_len[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      out.push_back(kReplacement);
      ++i;
      continue;
    }
    out.push_back(cp);
    i += len;
  }
  return out;
}

void append_utf8(char32_t cp, std::string& out) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

std::string encode_utf8(const std::u32string& text) {
  std::string out;
  out.reserve(text.size());
  for (char32_t cp : text) append_utf8(cp, out);
  return out;
}

}  // namespace ftdr::torchbe::unicode
