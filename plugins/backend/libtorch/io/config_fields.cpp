// io/config_fields.cpp: see config_fields.hpp.
#include "io/config_fields.hpp"

#include <cmath>

#include "ftdr/sdk/error.hpp"

namespace ftdr::torchbe {

using nlohmann::json;

Fields::Fields(const json& j, const std::string& file) : j_(j), file_(file) {
  if (!j.is_object()) throw sdk::Error(sdk::ErrorKind::model_error, file + ": expected a JSON object");
}

void Fields::fail(const std::string& key, const std::string& what) const {
  std::string got = j_.contains(key) ? j_.at(key).dump() : std::string("nothing");
  if (got.size() > 120) got = got.substr(0, 120) + "...";
  throw sdk::Error(sdk::ErrorKind::model_error,
                   file_ + ": key '" + key + "': " + what + " (got " + got + ")");
}

const json* Fields::find(const std::string& key) const {
  auto it = j_.find(key);
  return it == j_.end() || it->is_null() ? nullptr : &*it;
}

void Fields::read(const std::string& key, int64_t& out) const {
  if (auto v = find(key)) {
    if (!v->is_number_integer()) fail(key, "expected an integer");
    out = v->get<int64_t>();
  }
}

void Fields::read(const std::string& key, double& out) const {
  if (auto v = find(key)) {
    if (!v->is_number()) fail(key, "expected a number");
    out = v->get<double>();
  }
}

void Fields::read(const std::string& key, bool& out) const {
  if (auto v = find(key)) {
    if (!v->is_boolean()) fail(key, "expected true or false");
    out = v->get<bool>();
  }
}

void Fields::read(const std::string& key, std::string& out) const {
  if (auto v = find(key)) {
    if (!v->is_string()) fail(key, "expected a string");
    out = v->get<std::string>();
  }
}

void Fields::read(const std::string& key, std::vector<std::string>& out) const {
  if (auto v = find(key)) {
    if (!v->is_array() || v->empty()) fail(key, "expected a non-empty list of strings");
    out.clear();
    for (const auto& e : *v) {
      if (!e.is_string()) fail(key, "expected a list of strings");
      out.push_back(e.get<std::string>());
    }
  }
}

void Fields::read_int_or_list(const std::string& key, std::vector<int64_t>& out, size_t count) const {
  const json* v = find(key);
  if (!v) {
    if (out.size() == 1 && count > 0) out.assign(count, out.front());  // count 0: keep the default list
    return;
  }
  if (v->is_number_integer()) {
    if (count == 0) fail(key, "expected a list of integers");
    out.assign(count, v->get<int64_t>());
    return;
  }
  if (!v->is_array() || v->empty()) fail(key, "expected an integer or a non-empty list of integers");
  out.clear();
  for (const auto& e : *v) {
    if (!e.is_number_integer()) fail(key, "expected a list of integers");
    out.push_back(e.get<int64_t>());
  }
  if (count && out.size() != count)
    fail(key, "expected " + std::to_string(count) + " entries (one per block)");
}

void Fields::require_positive(const std::string& key, int64_t v) const {
  if (v <= 0) fail(key, "expected a positive integer");
}

void Fields::require_range(const std::string& key, int64_t v, int64_t lo, int64_t hi) const {
  if (v < lo || v > hi) fail(key, "expected an integer in " + std::to_string(lo) + ".." + std::to_string(hi));
}

void Fields::require_positive_finite(const std::string& key, double v) const {
  if (!std::isfinite(v) || v <= 0) fail(key, "expected a finite number > 0");
}

void Fields::require_finite(const std::string& key, double v) const {
  if (!std::isfinite(v)) fail(key, "expected a finite number");
}

void Fields::require_null(const std::string& key, const std::string& why) const {
  if (find(key)) fail(key, "not supported: " + why);
}

void Fields::require_one_of(const std::string& key, const std::string& value,
                            const std::set<std::string>& allowed) const {
  if (allowed.count(value)) return;
  std::string list;
  for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
  fail(key, "unsupported value '" + value + "', expected one of: " + list);
}

}  // namespace ftdr::torchbe
