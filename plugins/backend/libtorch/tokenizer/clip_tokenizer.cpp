// tokenizer/clip_tokenizer.cpp: CLIP BPE (Ref: openai/CLIP simple_tokenizer.py, transformers
// models/clip/tokenization_clip.py).
#include "tokenizer/clip_tokenizer.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <climits>
#include <fstream>
#include <sstream>

#include "ftdr/sdk/error.hpp"
#include "tokenizer/unicode_classes.hpp"

namespace ftdr::torchbe {
namespace {

namespace fs = std::filesystem;
using unicode::is_letter;
using unicode::is_number;
using unicode::is_space;

// transformers reads exactly this many merges (49152 - 256 - 2, after the version line).
constexpr size_t kMaxMerges = 49152 - 256 - 2;
const std::string kEndOfWord = "</w>";
const char* const kSpecialTokens[] = {"<|startoftext|>", "<|endoftext|>"};

[[noreturn]] void fail(const std::string& what) { throw sdk::Error(sdk::ErrorKind::model_error, what); }

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("tokenizer: missing file " + path.string());
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

nlohmann::json read_json_or_empty(const fs::path& path) {
  if (!fs::is_regular_file(path)) return nlohmann::json::object();
  try {
    return nlohmann::json::parse(read_text(path));
  } catch (const nlohmann::json::exception& e) {
    fail("tokenizer: " + path.string() + ": not valid JSON: " + e.what());
  }
}

// GPT-2's reversible byte -> printable character map: printable Latin-1 bytes stand for
// themselves, the rest are shifted to U+0100 upwards.
std::vector<std::string> make_byte_to_unicode() {
  std::vector<int> cp(256, -1);
  auto keep = [&](int from, int to) {
    for (int b = from; b <= to; ++b) cp[b] = b;
  };
  keep('!', '~');
  keep(0xA1, 0xAC);
  keep(0xAE, 0xFF);
  int next = 256;
  std::vector<std::string> out(256);
  for (int b = 0; b < 256; ++b) {
    if (cp[b] < 0) cp[b] = next++;
    unicode::append_utf8(static_cast<char32_t>(cp[b]), out[b]);
  }
  return out;
}

// A special token's content from special_tokens_map.json / tokenizer_config.json: a plain string or
// an AddedToken object {"content": ...}.
std::string token_content(const nlohmann::json& v, const fs::path& file, const std::string& key) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content") && v["content"].is_string())
    return v["content"].get<std::string>();
  fail("tokenizer: " + file.string() + ": key '" + key + "': expected a string or {\"content\": ...}");
}

// Splits normalised text like CLIP's regex (see the header); pieces are UTF-32.
std::vector<std::u32string> split_pieces(const std::u32string& t) {
  static const std::u32string specials[] = {U"<|startoftext|>", U"<|endoftext|>"};
  static const std::u32string contractions[] = {U"s", U"t", U"re", U"ve", U"m", U"ll", U"d"};
  std::vector<std::u32string> out;
  size_t i = 0;
  const size_t n = t.size();
  auto other = [](char32_t c) { return !is_space(c) && !is_letter(c) && !is_number(c); };
  while (i < n) {
    size_t len = 0;
    for (const auto& s : specials)
      if (len == 0 && t.compare(i, s.size(), s) == 0) len = s.size();
    if (len == 0 && t[i] == U'\'')
      for (const auto& c : contractions)
        if (len == 0 && t.compare(i + 1, c.size(), c) == 0) len = 1 + c.size();
    if (len == 0 && is_letter(t[i]))
      while (i + len < n && is_letter(t[i + len])) ++len;
    if (len == 0 && is_number(t[i])) len = 1;
    if (len == 0 && other(t[i]))
      while (i + len < n && other(t[i + len])) ++len;
    if (len == 0) {  // whitespace: not part of any piece
      ++i;
      continue;
    }
    out.push_back(t.substr(i, len));
    i += len;
  }
  return out;
}

// whitespace_clean(text).lower(): runs of whitespace -> one space, stripped, then lower case.
std::u32string normalise(const std::string& text) {
  std::u32string in = unicode::decode_utf8(text), out;
  bool pending_space = false;
  for (char32_t c : in) {
    if (is_space(c)) {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out.push_back(U' ');
    pending_space = false;
    unicode::append_lower(c, out);
  }
  return out;
}

}  // namespace

CLIPTokenizer CLIPTokenizer::from_folder(const fs::path& dir) {
  if (!fs::is_directory(dir)) fail("tokenizer: folder " + dir.string() + " does not exist");
  TokenizerTexts t;
  t.vocab_file = dir / "vocab.json";
  t.merges_file = dir / "merges.txt";
  t.map_file = dir / "special_tokens_map.json";
  t.config_file = dir / "tokenizer_config.json";
  t.vocab_json = read_text(t.vocab_file);
  t.merges_txt = read_text(t.merges_file);
  t.special_tokens_map = read_json_or_empty(t.map_file);
  t.tokenizer_config = read_json_or_empty(t.config_file);
  return from_texts(t);
}

CLIPTokenizer CLIPTokenizer::from_texts(const TokenizerTexts& t) {
  CLIPTokenizer tok;
  tok.byte_to_unicode_ = make_byte_to_unicode();

  const fs::path& vocab_file = t.vocab_file;
  nlohmann::json vocab;
  try {
    vocab = nlohmann::json::parse(t.vocab_json);
  } catch (const nlohmann::json::exception& e) {
    fail("tokenizer: " + vocab_file.string() + ": not valid JSON: " + e.what());
  }
  if (!vocab.is_object() || vocab.empty())
    fail("tokenizer: " + vocab_file.string() + ": expected {token: id}");
  for (auto it = vocab.begin(); it != vocab.end(); ++it) {
    if (!it->is_number_integer() || it->get<int64_t>() < 0 || it->get<int64_t>() > INT_MAX)
      fail("tokenizer: " + vocab_file.string() + ": key '" + it.key() + "': expected an integer id in 0.." +
           std::to_string(INT_MAX));
    tok.vocab_[it.key()] = it->get<int64_t>();
    tok.max_id_ = std::max(tok.max_id_, it->get<int64_t>());
  }

  const fs::path& merges_file = t.merges_file;
  std::istringstream merges(t.merges_txt);
  std::string line;
  size_t line_no = 0;
  while (std::getline(merges, line) && tok.merge_ranks_.size() < kMaxMerges) {
    ++line_no;
    if (line_no == 1 && line.rfind("#version", 0) == 0) continue;
    if (line.empty()) continue;
    if (line.find(' ') == std::string::npos || line.find(' ') != line.rfind(' '))
      fail("tokenizer: " + merges_file.string() + ":" + std::to_string(line_no) + ": expected two symbols");
    tok.merge_ranks_.emplace(line, static_cast<int>(tok.merge_ranks_.size()));
  }
  // Without merges every word falls apart into single characters, most of them not in the vocab.
  if (tok.merge_ranks_.empty())
    fail("tokenizer: " + merges_file.string() + ": no merges (expected one \"a b\" pair per line)");

  const fs::path &map_file = t.map_file, &config_file = t.config_file;
  const nlohmann::json &map = t.special_tokens_map, &config = t.tokenizer_config;
  auto special_id = [&](const std::string& key, const std::string& fallback) -> int64_t {
    std::string content = fallback;
    fs::path from = map_file;
    if (map.contains(key) && !map[key].is_null())
      content = token_content(map[key], map_file, key);
    else if (config.contains(key) && !config[key].is_null())
      content = token_content(config[key], from = config_file, key);
    auto it = tok.vocab_.find(content);
    if (it == tok.vocab_.end())
      fail("tokenizer: " + from.string() + ": key '" + key + "': token '" + content + "' is not in " +
           vocab_file.string());
    tok.special_tokens_.emplace_back(content, it->second);
    return it->second;
  };
  tok.bos_id_ = special_id("bos_token", kSpecialTokens[0]);
  tok.eos_id_ = special_id("eos_token", kSpecialTokens[1]);
  tok.pad_id_ = special_id("pad_token", kSpecialTokens[1]);
  tok.unk_id_ = special_id("unk_token", kSpecialTokens[1]);
  std::stable_sort(tok.special_tokens_.begin(), tok.special_tokens_.end(),
                   [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
  if (config.contains("model_max_length")) {
    const auto& v = config["model_max_length"];
    // Tokenizers without a limit store a huge sentinel; CLIP's text model takes 77 positions.
    if (!v.is_number_integer() || v.get<int64_t>() < 2)
      fail("tokenizer: " + config_file.string() + ": key 'model_max_length': expected an integer >= 2");
    if (v.get<int64_t>() <= 4096) tok.max_length_ = static_cast<int>(v.get<int64_t>());
  }
  return tok;
}

std::vector<std::string> CLIPTokenizer::bpe(const std::string& word) const {
  // Symbols: the word's UTF-8 characters, "</w>" glued to the last one.
  std::vector<std::string> parts;
  for (size_t i = 0; i < word.size();) {
    size_t len = 1;
    while (i + len < word.size() && (static_cast<unsigned char>(word[i + len]) & 0xC0) == 0x80) ++len;
    parts.push_back(word.substr(i, len));
    i += len;
  }
  if (parts.empty()) return parts;
  parts.back() += kEndOfWord;
  while (parts.size() > 1) {
    int best = INT_MAX;
    size_t best_at = 0;
    for (size_t i = 0; i + 1 < parts.size(); ++i) {
      auto it = merge_ranks_.find(parts[i] + ' ' + parts[i + 1]);
      if (it != merge_ranks_.end() && it->second < best) best = it->second, best_at = i;
    }
    if (best == INT_MAX) break;
    // Merge every occurrence of the best pair, left to right, as CLIP does.
    const std::string first = parts[best_at], second = parts[best_at + 1];
    std::vector<std::string> merged;
    for (size_t i = 0; i < parts.size();) {
      if (i + 1 < parts.size() && parts[i] == first && parts[i + 1] == second) {
        merged.push_back(first + second);
        i += 2;
      } else {
        merged.push_back(parts[i++]);
      }
    }
    parts.swap(merged);
  }
  return parts;
}

void CLIPTokenizer::tokenize_segment(const std::string& text, std::vector<int64_t>& ids) const {
  for (const std::u32string& piece : split_pieces(normalise(text))) {
    const std::string utf8 = unicode::encode_utf8(piece);
    if (utf8 == kSpecialTokens[0] || utf8 == kSpecialTokens[1]) {  // e.g. "<|ENDOFTEXT|>" lower-cased
      // A vocabulary without it (special tokens named otherwise) gives unk, as transformers does.
      auto it = vocab_.find(utf8);
      ids.push_back(it == vocab_.end() ? unk_id_ : it->second);
      continue;
    }
    std::string mapped;
    for (unsigned char b : utf8) mapped += byte_to_unicode_[b];
    for (const std::string& sym : bpe(mapped)) {
      auto it = vocab_.find(sym);
      ids.push_back(it == vocab_.end() ? unk_id_ : it->second);
    }
  }
}

std::vector<int64_t> CLIPTokenizer::tokenize(const std::string& text) const {
  std::vector<int64_t> ids;
  size_t segment_start = 0;
  for (size_t i = 0; i < text.size();) {
    const std::pair<std::string, int64_t>* hit = nullptr;
    for (const auto& special : special_tokens_)
      if (!special.first.empty() && text.compare(i, special.first.size(), special.first) == 0) {
        hit = &special;
        break;  // longest first
      }
    if (!hit) {
      ++i;
      continue;
    }
    tokenize_segment(text.substr(segment_start, i - segment_start), ids);
    ids.push_back(hit->second);
    i += hit->first.size();
    segment_start = i;
  }
  tokenize_segment(text.substr(segment_start), ids);
  return ids;
}

std::vector<int64_t> CLIPTokenizer::encode_unpadded(const std::string& text) const {
  std::vector<int64_t> tokens = tokenize(text);
  const size_t room = static_cast<size_t>(max_length_) - 2;
  if (tokens.size() > room) tokens.resize(room);
  std::vector<int64_t> ids;
  ids.reserve(tokens.size() + 2);
  ids.push_back(bos_id_);
  ids.insert(ids.end(), tokens.begin(), tokens.end());
  ids.push_back(eos_id_);
  return ids;
}

std::vector<int64_t> CLIPTokenizer::encode(const std::string& text) const {
  std::vector<int64_t> ids = encode_unpadded(text);
  ids.resize(static_cast<size_t>(max_length_), pad_id_);
  return ids;
}

}  // namespace ftdr::torchbe
