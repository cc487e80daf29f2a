// The AUTOMATIC1111 `parameters` text (see png_writer.hpp).
//
// How A1111 reads it back (modules/infotext_utils.py, parse_generation_parameters): the text is
// stripped and split at "\n"; the last line holds the settings ("Key: value, ..."; a value in
// double quotes is JSON and unquoted); every other line is stripped of whitespace at both ends,
// and the first line that then starts with "Negative prompt:" starts the negative prompt — that
// label is cut from it and from every later line that starts with it. The prompt lines are joined
// with "\n". So FTDR writes:
//   - Line breaks as lines: CR LF, CR, U+2028 and U+2029 become "\n" (the tokenizer reads all of
//     them as whitespace, so the image is the same). Other control characters never get here:
//     request validation refuses them (text_checks.hpp).
//   - A line of either prompt that, after its leading whitespace, starts with zero or more "\"
//     and then "Negative prompt:" gets one more "\" there. Without it the reader would move that
//     line and the rest of the prompt into the negative prompt. To get the prompt back, drop one
//     "\" from such lines. (A1111's prompt parser drops a lone "\" before a letter too.)
//   - Whitespace at either end of a line is kept, but the reader trims it; the tokenizer ignores
//     it as well. The exact prompt is in the `ftdr_request` chunk.
//   - A settings value with ',', ':', '"' or a line break (a model folder's name) is written as a
//     JSON string, as A1111's quote() does, so the reader's unquote() gives it back.
#include <cstdio>
#include <vector>

#include <nlohmann/json.hpp>

#include "ftdr/framework/output/png_writer.hpp"

namespace ftdr::framework {
namespace {

// Python-like shortest form of a setting: 7.5 -> "7.5", 7 -> "7".
std::string number(double value) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", value);
  return buf;
}

// The text with every line break as "\n": CR LF, CR, U+2028 (E2 80 A8), U+2029 (E2 80 A9).
std::string unix_lines(const std::string& text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\r') {
      if (i + 1 < text.size() && text[i + 1] == '\n') ++i;
      out += '\n';
    } else if (text.compare(i, 3, "\xe2\x80\xa8") == 0 || text.compare(i, 3, "\xe2\x80\xa9") == 0) {
      out += '\n';
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

// Bytes of Python-whitespace (what str.strip() removes) at the start of `line` — tab, space and the
// Unicode spaces; control characters cannot occur here (see the top of the file).
std::size_t leading_space(const std::string& line) {
  static const char* const kSpaces[] = {"\xc2\xa0", "\xe1\x9a\x80", "\xe2\x80\xaf", "\xe2\x81\x9f",
                                        "\xe3\x80\x80"};
  std::size_t i = 0;
  while (i < line.size()) {
    if (line[i] == ' ' || line[i] == '\t') {
      ++i;
      continue;
    }
    // U+2000..U+200A: E2 80 80..8A
    if (line.compare(i, 2, "\xe2\x80") == 0 && i + 2 < line.size() &&
        static_cast<unsigned char>(line[i + 2]) >= 0x80 && static_cast<unsigned char>(line[i + 2]) <= 0x8a) {
      i += 3;
      continue;
    }
    std::size_t matched = 0;
    for (const char* s : kSpaces) {
      const std::string space(s);
      if (line.compare(i, space.size(), space) == 0) matched = space.size();
    }
    if (matched == 0) break;
    i += matched;
  }
  return i;
}

// The rule above, line by line.
std::string escape_prompt(const std::string& text) {
  static const std::string kLabel = "Negative prompt:";
  std::string out;
  std::size_t start = 0;
  const std::string lines = unix_lines(text);
  while (start <= lines.size()) {
    std::size_t end = lines.find('\n', start);
    if (end == std::string::npos) end = lines.size();
    std::string line = lines.substr(start, end - start);
    const std::size_t at = leading_space(line);
    std::size_t label = at;
    while (label < line.size() && line[label] == '\\') ++label;
    if (line.compare(label, kLabel.size(), kLabel) == 0) line.insert(at, "\\");
    out += line;
    if (end < lines.size()) out += '\n';
    start = end + 1;
  }
  return out;
}

// A1111's quote(): a value with a separator in it becomes a JSON string.
std::string quote(const std::string& value) {
  if (value.find_first_of(",:\"\n\r") == std::string::npos) return value;
  return nlohmann::json(value).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

std::string a1111_sampler_name(const std::string& sampler) {
  static const std::vector<std::pair<std::string, std::string>> names{
      {"euler_a", "Euler a"}, {"euler", "Euler"},       {"ddim", "DDIM"},
      {"pndm", "PNDM"},       {"dpmpp_2m", "DPM++ 2M"}, {"dpmpp_2m_karras", "DPM++ 2M Karras"},
      {"lms", "LMS"}};
  for (const auto& [ours, theirs] : names)
    if (ours == sampler) return theirs;
  return sampler;
}

std::string a1111_parameters(const sdk::GenerationParams& params, const std::string& model_name,
                             int image_index) {
  const sdk::GenerationRequest& r = params.request;
  std::string out = escape_prompt(r.prompt) + "\n";
  if (!r.negative_prompt.empty()) out += "Negative prompt: " + escape_prompt(r.negative_prompt) + "\n";
  out += "Steps: " + std::to_string(r.steps) + ", Sampler: " + quote(a1111_sampler_name(r.sampler)) +
         ", CFG scale: " + number(r.cfg_scale) +
         ", Seed: " + std::to_string(r.seed + static_cast<std::uint64_t>(image_index)) +
         ", Size: " + std::to_string(params.width) + "x" + std::to_string(params.height) +
         ", Model: " + quote(model_name);
  if (r.batch > 1)
    out += ", Batch size: " + std::to_string(r.batch) + ", Batch pos: " + std::to_string(image_index);
  if (r.clip_skip > 1) out += ", Clip skip: " + std::to_string(r.clip_skip);
  if (r.eta != 0) out += ", Eta: " + number(r.eta);
  out += ", Version: ftdr " FTDR_VERSION;
  return out;
}

}  // namespace ftdr::framework
