// ftdr/framework/config/config_view.hpp: the SDK's ConfigView over one table of a parsed TOML file.
//
// The host parses a config file once (ConfigDocument) and hands out views of its tables: the host's
// own sections are read through them too, and each plugin gets the view of its table
// ([scheduler.priority]). Every getter records the key it was asked for; after whoever owns the
// table has read it (the host after parsing, a plugin after create()), unknown_keys() lists every
// key nobody asked for, with file:line:col and the keys that are known, so typos never pass.
//
//   auto doc = ConfigDocument::parse_file("configs/default.toml");
//   auto view = doc->view("scheduler.priority");
//   int64_t aging = view->get_int("aging_ms", 500);
//   for (auto& problem : view->unknown_keys()) std::cerr << problem << "\n";
//
// Views are safe to read from several threads; the document lives as long as any view of it.
#pragma once
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include <toml++/toml.h>

#include "ftdr/sdk/config_view.hpp"

namespace ftdr::framework {

class TomlConfigView;

// One parsed TOML file. Parse errors throw sdk::Error(invalid_request) "file:line:col: <what>".
class ConfigDocument : public std::enable_shared_from_this<ConfigDocument> {
 public:
  static std::shared_ptr<ConfigDocument> parse_file(const std::filesystem::path& file);
  // `file` names the text in messages and anchors relative paths; it need not exist.
  static std::shared_ptr<ConfigDocument> parse_string(const std::string& text,
                                                      const std::filesystem::path& file);

  const std::filesystem::path& file() const { return file_; }
  const toml::table& root() const { return root_; }
  // The view of a dotted table path ("" = the whole file, "scheduler.priority"); empty if absent.
  std::shared_ptr<TomlConfigView> view(const std::string& section);

 private:
  ConfigDocument(toml::table root, std::filesystem::path file)
      : root_(std::move(root)), file_(std::move(file)) {}
  toml::table root_;
  std::filesystem::path file_;
};

class TomlConfigView final : public sdk::ConfigView {
 public:
  // `table` may be null (the section is absent: every getter returns its fallback).
  TomlConfigView(std::shared_ptr<const ConfigDocument> doc, const toml::table* table, std::string section);

  bool has(const std::string& key) const override;
  std::string get_string(const std::string& key, const std::string& fallback) const override;
  std::int64_t get_int(const std::string& key, std::int64_t fallback) const override;
  double get_double(const std::string& key, double fallback) const override;
  bool get_bool(const std::string& key, bool fallback) const override;
  std::vector<std::string> get_string_list(const std::string& key) const override;
  std::shared_ptr<const sdk::ConfigView> table(const std::string& key) const override;
  std::vector<std::string> keys() const override;
  std::string where(const std::string& key) const override;
  [[noreturn]] void reject(const std::string& key, const std::string& expected) const override;

  // The typed child view (same as table(), without the cast).
  std::shared_ptr<TomlConfigView> child(const std::string& key) const;
  // Marks a key as known without reading it (a sub-table another owner checks).
  void mark_known(const std::string& key) const;
  // Hands a table from elsewhere in the document to this view's owner as its sub-table `key`:
  // table(key) returns `view`, has(key) and keys() include it, and unknown_keys() reports the
  // attached table's keys (all of them when the owner never asks for `key`). The host uses it to
  // give the top-level [faults] table to the backend as its `faults` (config.hpp).
  void attach(const std::string& key, std::shared_ptr<TomlConfigView> view);
  // One message per key present but never asked for, recursing into children read through table():
  // "file:line:col: unknown key 'scheduler.priority.agin_ms' (expected one of: aging_ms)".
  std::vector<std::string> unknown_keys() const;

  bool exists() const { return table_ != nullptr; }
  // Whether `key` holds a table (does not count as reading it).
  bool is_table(const std::string& key) const;
  const std::string& section() const { return section_; }
  const std::filesystem::path& file() const { return doc_->file(); }
  // "file:line:col" of a key's value, or of the table when the key is absent.
  std::string position(const std::string& key) const;

 private:
  const toml::node* node(const std::string& key) const;  // records the key as read
  std::string full_key(const std::string& key) const;

  std::shared_ptr<const ConfigDocument> doc_;
  const toml::table* table_;
  std::string section_;
  mutable std::mutex mutex_;
  mutable std::set<std::string> read_;
  mutable std::map<std::string, std::shared_ptr<TomlConfigView>> children_;
  std::set<std::string> attached_;  // keys whose child comes from attach(), not from table_
};

// "a string", "an integer", ... for messages.
std::string toml_type_name(const toml::node& node);

}  // namespace ftdr::framework
