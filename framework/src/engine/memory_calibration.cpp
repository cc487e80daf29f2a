// Memory estimate calibration (see memory_calibration.hpp).
#include "ftdr/framework/engine/memory_calibration.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <spdlog/spdlog.h>
#include <unistd.h>
#include <nlohmann/json.hpp>

#include "ftdr/sdk/error.hpp"

namespace ftdr::framework {
namespace fs = std::filesystem;

std::string CalibrationKey::str() const {
  return model + "|" + std::string(sdk::to_string(phase)) + "|" + mode + "|" +
         std::string(sdk::to_string(dtype)) + "|" + std::string(sdk::to_string(device));
}

CalibrationKey calibration_key(const std::string& model, sdk::Phase phase, const sdk::RuntimeOptions& options,
                               sdk::Device device) {
  CalibrationKey k;
  k.model = model;
  k.phase = phase;
  k.mode = phase == sdk::Phase::decoding ? (options.vae_tiling ? "tiled" : "whole")
                                         : std::string(sdk::to_string(options.attention));
  k.dtype = options.dtype;
  k.device = device;
  return k;
}

MemoryCalibration::MemoryCalibration(std::string file, CalibrationSettings settings)
    : file_(std::move(file)), settings_(settings) {
  if (!(settings_.alpha > 0 && settings_.alpha <= 1)) {
    throw sdk::Error(sdk::ErrorKind::invalid_request,
                     "memory calibration alpha: expected a number in (0, 1]");
  }
  if (!(settings_.min_ratio > 0 && settings_.min_ratio <= settings_.max_ratio &&
        std::isfinite(settings_.max_ratio))) {
    throw sdk::Error(sdk::ErrorKind::invalid_request,
                     "memory calibration min_ratio/max_ratio: expected 0 < min_ratio <= max_ratio (finite)");
  }
  if (!file_.empty()) load();
}

double MemoryCalibration::clamp(double r) const {
  return std::clamp(r, settings_.min_ratio, settings_.max_ratio);
}

void MemoryCalibration::load() {
  std::error_code ec;
  if (!fs::exists(file_, ec)) return;
  nlohmann::json doc;
  try {
    std::ifstream in(file_);
    if (!in) throw std::runtime_error("cannot open it");
    doc = nlohmann::json::parse(in);
    if (!doc.is_object() || !doc.contains("entries") || !doc["entries"].is_object()) {
      throw std::runtime_error("expected an object with an \"entries\" object");
    }
  } catch (const std::exception& e) {
    spdlog::warn("memory calibration {}: ignored ({}); starting from ratio 1", file_, e.what());
    return;
  }
  for (const auto& [key, value] : doc["entries"].items()) {
    const bool ok = value.is_object() && value.contains("ratio") && value["ratio"].is_number() &&
                    std::isfinite(value["ratio"].get<double>()) && value["ratio"].get<double>() > 0;
    if (!ok) {
      spdlog::warn("memory calibration {}: entry \"{}\" ignored (expected {{\"ratio\": a positive number}})",
                   file_, key);
      continue;
    }
    Entry e;
    e.ratio = clamp(value["ratio"].get<double>());
    e.samples =
        value.contains("samples") && value["samples"].is_number_integer() ? value["samples"].get<int>() : 1;
    entries_[key] = e;
  }
}

void MemoryCalibration::save() const {
  if (file_.empty()) return;
  nlohmann::json doc;
  doc["version"] = 1;
  doc["entries"] = nlohmann::json::object();
  for (const auto& [key, e] : entries_) doc["entries"][key] = {{"ratio", e.ratio}, {"samples", e.samples}};
  // Same folder, so the rename is atomic: a reader (or a crash) sees the old file or the new one.
  const fs::path target(file_);
  const fs::path tmp = target.string() + ".tmp." + std::to_string(::getpid());
  try {
    if (target.has_parent_path()) fs::create_directories(target.parent_path());
    {
      std::ofstream out(tmp, std::ios::trunc);
      out << doc.dump(2) << "\n";
      out.flush();
      if (!out) throw std::runtime_error("cannot write " + tmp.string());
    }
    fs::rename(tmp, target);
  } catch (const std::exception& e) {
    std::error_code ec;
    fs::remove(tmp, ec);
    spdlog::warn("memory calibration {}: not saved ({})", file_, e.what());
  }
}

double MemoryCalibration::ratio(const std::string& key) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = entries_.find(key);
  return it == entries_.end() ? 1.0 : it->second.ratio;
}

std::uint64_t MemoryCalibration::calibrated(const CalibrationKey& key, std::uint64_t estimate) const {
  return static_cast<std::uint64_t>(std::llround(static_cast<double>(estimate) * ratio(key)));
}

int MemoryCalibration::samples(const std::string& key) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = entries_.find(key);
  return it == entries_.end() ? 0 : it->second.samples;
}

double MemoryCalibration::record(const std::string& key, std::uint64_t estimate, std::uint64_t measured) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (estimate == 0 || measured == 0) {
    auto it = entries_.find(key);
    return it == entries_.end() ? 1.0 : it->second.ratio;
  }
  Entry& e = entries_[key];
  const double observed = clamp(static_cast<double>(measured) / static_cast<double>(estimate));
  e.ratio = e.samples == 0 ? observed : clamp(settings_.alpha * observed + (1 - settings_.alpha) * e.ratio);
  ++e.samples;
  const double r = e.ratio;
  save();
  return r;
}

}  // namespace ftdr::framework
