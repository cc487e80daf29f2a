// framework/src/jobs/text_checks.hpp: what text a request may carry (request_validation.cpp).
//
// Prompts go to the tokenizer, into PNG text chunks and into JSON; file name prefixes become file
// names. Both must be valid UTF-8 (nlohmann::json refuses anything else when it writes) and free of
// control characters, which are invisible, drive terminals, and make the A1111 `parameters` chunk
// ambiguous (NUL even ends a PNG text chunk early). Prompts may hold tab, CR and LF: they are
// whitespace to the tokenizer and the `parameters` writer turns line breaks into lines.
//
//   if (auto problem = text_problem(r.prompt, TextKind::prompt)) reject("prompt", ...);
#pragma once
#include <optional>
#include <string>

namespace ftdr::framework {

enum class TextKind {
  prompt,     // tab, CR and LF allowed
  file_name,  // no control character at all
};

// Why `text` is not acceptable ("an invalid UTF-8 byte 0xff at byte 3", "control character U+0007
// at byte 5"), or nothing when it is.
std::optional<std::string> text_problem(const std::string& text, TextKind kind);

}  // namespace ftdr::framework
