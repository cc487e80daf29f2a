// TomlConfigView: typed, key-recording reads of one TOML table (see config_view.hpp).
#include "ftdr/framework/config/config_view.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "ftdr/sdk/error.hpp"

namespace ftdr::framework {
namespace {

using sdk::Error;
using sdk::ErrorKind;

std::string join(const std::set<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

std::string format_position(const std::filesystem::path& file, const toml::source_region& src) {
  std::ostringstream out;
  out << file.string();
  if (src.begin.line != 0) out << ":" << src.begin.line << ":" << src.begin.column;
  return out.str();
}

// A path that is not a readable regular file, named for what it is: a folder or a pipe given as
// the config must not read "not found".
void check_config_file(const std::filesystem::path& file) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::file_status status = fs::status(file, ec);
  std::string problem;
  if (status.type() == fs::file_type::not_found)
    problem = "config file not found";
  else if (ec)
    problem = "cannot read the config file: " + ec.message();
  else if (status.type() == fs::file_type::directory)
    problem = "is a directory, not a config file";
  else if (status.type() != fs::file_type::regular)
    problem = "is not a regular file (a config must be a TOML file)";
  else if (!std::ifstream(file))
    problem = std::string("cannot read the config file: ") + std::strerror(errno);
  if (!problem.empty()) throw Error(ErrorKind::invalid_request, file.string() + ": " + problem);
}

}  // namespace

std::string toml_type_name(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a float";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::array: return "an array";
    case toml::node_type::table: return "a table";
    case toml::node_type::date:
    case toml::node_type::time:
    case toml::node_type::date_time: return "a date/time";
    default: return "nothing";
  }
}

std::shared_ptr<ConfigDocument> ConfigDocument::parse_file(const std::filesystem::path& file) {
  check_config_file(file);
  try {
    auto table = toml::parse_file(file.string());
    return std::shared_ptr<ConfigDocument>(new ConfigDocument(std::move(table), file));
  } catch (const toml::parse_error& e) {
    throw Error(ErrorKind::invalid_request,
                format_position(file, e.source()) + ": TOML parse error: " + std::string(e.description()));
  }
}

std::shared_ptr<ConfigDocument> ConfigDocument::parse_string(const std::string& text,
                                                             const std::filesystem::path& file) {
  try {
    auto table = toml::parse(text, file.string());
    return std::shared_ptr<ConfigDocument>(new ConfigDocument(std::move(table), file));
  } catch (const toml::parse_error& e) {
    throw Error(ErrorKind::invalid_request,
                format_position(file, e.source()) + ": TOML parse error: " + std::string(e.description()));
  }
}

std::shared_ptr<TomlConfigView> ConfigDocument::view(const std::string& section) {
  const toml::table* table = &root_;
  if (!section.empty()) {
    auto found = root_.at_path(section);
    table = found.as_table();
  }
  return std::make_shared<TomlConfigView>(shared_from_this(), table, section);
}

TomlConfigView::TomlConfigView(std::shared_ptr<const ConfigDocument> doc, const toml::table* table,
                               std::string section)
    : doc_(std::move(doc)), table_(table), section_(std::move(section)) {}

std::string TomlConfigView::full_key(const std::string& key) const {
  return section_.empty() ? key : section_ + "." + key;
}

const toml::node* TomlConfigView::node(const std::string& key) const {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    read_.insert(key);
  }
  return table_ ? table_->get(key) : nullptr;
}

void TomlConfigView::mark_known(const std::string& key) const {
  std::lock_guard<std::mutex> lock(mutex_);
  read_.insert(key);
}

void TomlConfigView::attach(const std::string& key, std::shared_ptr<TomlConfigView> view) {
  std::lock_guard<std::mutex> lock(mutex_);
  children_[key] = std::move(view);
  attached_.insert(key);
}

bool TomlConfigView::has(const std::string& key) const {
  if (attached_.count(key)) return true;
  return table_ && table_->get(key) != nullptr;
}

bool TomlConfigView::is_table(const std::string& key) const {
  const toml::node* n = table_ ? table_->get(key) : nullptr;
  return n && n->is_table();
}

std::string TomlConfigView::position(const std::string& key) const {
  const toml::node* n = table_ ? table_->get(key) : nullptr;
  if (n) return format_position(doc_->file(), n->source());
  if (table_) return format_position(doc_->file(), table_->source());
  return doc_->file().string();
}

std::string TomlConfigView::where(const std::string& key) const {
  return position(key) + ": key '" + full_key(key) + "'";
}

void TomlConfigView::reject(const std::string& key, const std::string& expected) const {
  throw Error(ErrorKind::invalid_request, where(key) + ": expected " + expected);
}

std::string TomlConfigView::get_string(const std::string& key, const std::string& fallback) const {
  const toml::node* n = node(key);
  if (!n) return fallback;
  if (auto v = n->as_string()) return v->get();
  reject(key, "a string (got " + toml_type_name(*n) + ")");
}

std::int64_t TomlConfigView::get_int(const std::string& key, std::int64_t fallback) const {
  const toml::node* n = node(key);
  if (!n) return fallback;
  if (auto v = n->as_integer()) return v->get();
  reject(key, "an integer (got " + toml_type_name(*n) + ")");
}

double TomlConfigView::get_double(const std::string& key, double fallback) const {
  const toml::node* n = node(key);
  if (!n) return fallback;
  if (auto v = n->as_floating_point()) return v->get();
  if (auto v = n->as_integer()) return static_cast<double>(v->get());
  reject(key, "a number (got " + toml_type_name(*n) + ")");
}

bool TomlConfigView::get_bool(const std::string& key, bool fallback) const {
  const toml::node* n = node(key);
  if (!n) return fallback;
  if (auto v = n->as_boolean()) return v->get();
  reject(key, "a boolean, true or false (got " + toml_type_name(*n) + ")");
}

std::vector<std::string> TomlConfigView::get_string_list(const std::string& key) const {
  const toml::node* n = node(key);
  if (!n) return {};
  const toml::array* array = n->as_array();
  if (!array) reject(key, "an array of strings (got " + toml_type_name(*n) + ")");
  std::vector<std::string> out;
  for (std::size_t i = 0; i < array->size(); ++i) {
    const toml::node& item = *array->get(i);
    if (auto s = item.as_string()) {
      out.push_back(s->get());
    } else {
      throw Error(ErrorKind::invalid_request, format_position(doc_->file(), item.source()) + ": key '" +
                                                  full_key(key) + "[" + std::to_string(i) +
                                                  "]': expected a string (got " + toml_type_name(item) + ")");
    }
  }
  return out;
}

std::shared_ptr<TomlConfigView> TomlConfigView::child(const std::string& key) const {
  if (attached_.count(key)) {
    std::lock_guard<std::mutex> lock(mutex_);
    read_.insert(key);
    return children_.at(key);
  }
  const toml::node* n = node(key);
  if (n && !n->is_table()) reject(key, "a table (got " + toml_type_name(*n) + ")");
  std::lock_guard<std::mutex> lock(mutex_);
  auto& slot = children_[key];
  if (!slot) slot = std::make_shared<TomlConfigView>(doc_, n ? n->as_table() : nullptr, full_key(key));
  return slot;
}

std::shared_ptr<const sdk::ConfigView> TomlConfigView::table(const std::string& key) const {
  return child(key);
}

std::vector<std::string> TomlConfigView::keys() const {
  std::vector<std::string> out;
  if (table_)
    for (const auto& [k, v] : *table_) out.emplace_back(k.str());
  out.insert(out.end(), attached_.begin(), attached_.end());
  return out;
}

std::vector<std::string> TomlConfigView::unknown_keys() const {
  std::vector<std::string> problems;
  std::set<std::string> read;
  std::map<std::string, std::shared_ptr<TomlConfigView>> children;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    read = read_;
    children = children_;
  }
  // An attached table the owner never asked for: every key in it is unknown (its own view, never
  // read, says so); one it read reports its own unknown keys.
  for (const auto& key : attached_) {
    auto nested = children.at(key)->unknown_keys();
    problems.insert(problems.end(), nested.begin(), nested.end());
  }
  if (!table_) return problems;
  for (const auto& [k, v] : *table_) {
    const std::string key(k.str());
    if (read.count(key) == 0) {
      std::string expected = read.empty() ? "this table takes no keys" : "expected one of: " + join(read);
      problems.push_back(format_position(doc_->file(), k.source()) + ": unknown key '" + full_key(key) +
                         "' (" + expected + ")");
    } else if (auto it = children.find(key); it != children.end()) {
      auto nested = it->second->unknown_keys();
      problems.insert(problems.end(), nested.begin(), nested.end());
    }
  }
  return problems;
}

}  // namespace ftdr::framework
