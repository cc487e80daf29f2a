// tools/bpe_learner.cpp: byte-level BPE learning and CLIP-format output.
#include "bpe_learner.hpp"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>

namespace ftdr::demo {

namespace {

std::string utf8(int code_point) {
  std::string out;
  if (code_point < 0x80) {
    out += static_cast<char>(code_point);
  } else if (code_point < 0x800) {
    out += static_cast<char>(0xC0 | (code_point >> 6));
    out += static_cast<char>(0x80 | (code_point & 0x3F));
  } else {
    out += static_cast<char>(0xE0 | (code_point >> 12));
    out += static_cast<char>(0x80 | ((code_point >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (code_point & 0x3F));
  }
  return out;
}

const std::vector<std::string>& byte_chars() {
  static const std::vector<std::string> table = [] {
    std::vector<std::string> t(256);
    for (const auto& [b, ch] : bytes_to_unicode_ordered()) t[b] = ch;
    return t;
  }();
  return table;
}

enum class CharClass { space, letter, digit, other };

CharClass classify(unsigned char c) {
  if (std::isspace(c)) return CharClass::space;
  if (std::isalpha(c) || c >= 0x80) return CharClass::letter;  // non-ASCII: treat as letters
  if (std::isdigit(c)) return CharClass::digit;
  return CharClass::other;
}

// A word as BPE symbols: one byte character each, "</w>" on the last.
std::vector<std::string> to_symbols(const std::string& word) {
  std::vector<std::string> symbols;
  for (unsigned char c : word) symbols.push_back(byte_chars()[c]);
  if (!symbols.empty()) symbols.back() += "</w>";
  return symbols;
}

}  // namespace

std::vector<std::pair<int, std::string>> bytes_to_unicode_ordered() {
  std::vector<int> bs;
  for (int b = '!'; b <= '~'; ++b) bs.push_back(b);
  for (int b = 0xA1; b <= 0xAC; ++b) bs.push_back(b);
  for (int b = 0xAE; b <= 0xFF; ++b) bs.push_back(b);
  std::vector<int> cs = bs;
  int n = 0;
  for (int b = 0; b < 256; ++b) {
    if (std::find(bs.begin(), bs.end(), b) == bs.end()) {
      bs.push_back(b);
      cs.push_back(256 + n++);
    }
  }
  std::vector<std::pair<int, std::string>> out;
  for (std::size_t i = 0; i < bs.size(); ++i) out.emplace_back(bs[i], utf8(cs[i]));
  return out;
}

std::vector<std::string> pretokenize(const std::string& text) {
  // CLIP: letters+ | one digit | runs of other non-space characters (contractions are not
  // needed by the caption corpus, which has none).
  std::vector<std::string> words;
  std::string current;
  CharClass current_class = CharClass::space;
  auto flush = [&] {
    if (!current.empty()) words.push_back(current);
    current.clear();
  };
  for (unsigned char raw : text) {
    const unsigned char c = static_cast<unsigned char>(std::tolower(raw));
    const CharClass k = classify(c);
    if (k != current_class || k == CharClass::digit) flush();
    current_class = k;
    if (k != CharClass::space) current += static_cast<char>(c);
  }
  flush();
  return words;
}

std::vector<Merge> learn_bpe(const std::vector<std::string>& corpus, int max_merges) {
  std::map<std::string, long> word_counts;
  for (const auto& text : corpus)
    for (const auto& w : pretokenize(text)) ++word_counts[w];
  std::vector<std::pair<std::vector<std::string>, long>> words;
  for (const auto& [w, n] : word_counts) words.emplace_back(to_symbols(w), n);

  std::vector<Merge> merges;
  while (static_cast<int>(merges.size()) < max_merges) {
    std::map<Merge, long> pair_counts;  // ordered: ties go to the smallest pair
    for (const auto& [symbols, n] : words)
      for (std::size_t i = 0; i + 1 < symbols.size(); ++i) pair_counts[{symbols[i], symbols[i + 1]}] += n;
    if (pair_counts.empty()) break;
    auto best = pair_counts.begin();
    for (auto it = pair_counts.begin(); it != pair_counts.end(); ++it)
      if (it->second > best->second) best = it;
    const Merge merge = best->first;
    merges.push_back(merge);
    for (auto& [symbols, n] : words) {
      std::vector<std::string> merged;
      for (std::size_t i = 0; i < symbols.size(); ++i) {
        if (i + 1 < symbols.size() && symbols[i] == merge.first && symbols[i + 1] == merge.second) {
          merged.push_back(merge.first + merge.second);
          ++i;
        } else {
          merged.push_back(symbols[i]);
        }
      }
      symbols = std::move(merged);
    }
  }
  return merges;
}

std::vector<std::pair<std::string, int>> clip_vocab(const std::vector<Merge>& merges) {
  std::vector<std::pair<std::string, int>> vocab;
  std::set<std::string> seen;
  auto add = [&](const std::string& token) {
    if (seen.insert(token).second) vocab.emplace_back(token, static_cast<int>(vocab.size()));
  };
  const auto chars = bytes_to_unicode_ordered();
  for (const auto& entry : chars) add(entry.second);
  for (const auto& entry : chars) add(entry.second + "</w>");
  for (const auto& m : merges) add(m.first + m.second);
  add("<|startoftext|>");
  add("<|endoftext|>");
  return vocab;
}

namespace {

nlohmann::ordered_json added_token(const std::string& content, bool with_type) {
  nlohmann::ordered_json t;
  if (with_type) t["__type"] = "AddedToken";
  t["content"] = content;
  t["lstrip"] = false;
  t["normalized"] = true;
  t["rstrip"] = false;
  t["single_word"] = false;
  return t;
}

void write_text(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

}  // namespace

int write_clip_tokenizer(const std::filesystem::path& dir, const std::vector<Merge>& merges) {
  std::filesystem::create_directories(dir);
  const auto vocab = clip_vocab(merges);
  nlohmann::ordered_json vocab_json = nlohmann::ordered_json::object();
  for (const auto& [token, id] : vocab) vocab_json[token] = id;
  write_text(dir / "vocab.json", vocab_json.dump() + "\n");

  std::string merges_text = "#version: 0.2\n";
  for (const auto& m : merges) merges_text += m.first + " " + m.second + "\n";
  write_text(dir / "merges.txt", merges_text);

  // Same content as runwayml/stable-diffusion-v1-5's tokenizer files (pad = <|endoftext|>).
  nlohmann::ordered_json config;
  config["add_prefix_space"] = false;
  config["bos_token"] = added_token("<|startoftext|>", true);
  config["do_lower_case"] = true;
  config["eos_token"] = added_token("<|endoftext|>", true);
  config["errors"] = "replace";
  config["model_max_length"] = 77;
  config["name_or_path"] = "ftdr-shapes";
  config["pad_token"] = "<|endoftext|>";
  config["tokenizer_class"] = "CLIPTokenizer";
  config["unk_token"] = added_token("<|endoftext|>", true);
  write_text(dir / "tokenizer_config.json", config.dump(2) + "\n");

  nlohmann::ordered_json special;
  special["bos_token"] = added_token("<|startoftext|>", false);
  special["eos_token"] = added_token("<|endoftext|>", false);
  special["pad_token"] = "<|endoftext|>";
  special["unk_token"] = added_token("<|endoftext|>", false);
  write_text(dir / "special_tokens_map.json", special.dump(2) + "\n");
  return static_cast<int>(vocab.size());
}

}  // namespace ftdr::demo
