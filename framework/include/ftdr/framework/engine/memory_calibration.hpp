// ftdr/framework/engine/memory_calibration.hpp: learns how far the backend's activation estimates are from
// what phases really use, and corrects the next estimates.
//
// The backend's estimate_activation_bytes() is analytic (right scaling, rough constant). After every
// phase that finished, the engine reports (estimate, measured) for a key; the calibration keeps, per
// key, an exponential moving average of measured / estimate, clamped to [min_ratio, max_ratio], and
// the next job's estimate for that key is multiplied by it (ratio 1 while the key is unknown):
//
//   MemoryCalibration cal(state_dir + "/memory_calibration.json");   // "" = in memory only
//   CalibrationKey key{"tiny-sd1", sdk::Phase::diffusion, "naive", sdk::DType::f32, sdk::Device::cpu};
//   std::uint64_t e = cal.calibrated(key, backend_estimate);
//   ... run the phase ...
//   cal.record(key, backend_estimate_at_the_options_it_ran_with, measured_bytes);   // saves the file
//
// "measured" is the phase's activation peak as the engine sees it: on the CPU the peak RSS during the
// phase minus the RSS when its work started; on CUDA the caching allocator's peak minus what was
// allocated when its work started (the weights placed on the device and the held artifacts).
// Measurements of 0 (a backend that reports no memory) and estimates of 0 teach nothing and are
// ignored.
//
// The file is JSON ({"version": 1, "entries": {"<key>": {"ratio": r, "samples": n}}}), rewritten
// atomically (a temporary file in the same folder, then rename) after every record(). A file that
// cannot be read or parsed, or entries that are not positive finite numbers, are ignored with a
// warning (spdlog), never a crash: the calibration then starts again from ratio 1.
//
// Threads: every member takes an internal lock; the engine calls it under its own lock anyway.
#pragma once
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include "ftdr/sdk/types.hpp"

namespace ftdr::framework {

struct CalibrationKey {
  std::string model;  // ModelInfo::name
  sdk::Phase phase = sdk::Phase::diffusion;
  std::string mode;  // attention mode for encoding/diffusion ("naive", "sliced",
                     // "sdpa", "auto"); "tiled" / "whole" for decoding
  sdk::DType dtype = sdk::DType::f32;
  sdk::Device device = sdk::Device::cpu;

  // "tiny-sd1|diffusion|sliced|f32|cuda": the key in the file.
  std::string str() const;
};

// The key of a phase run with these options on this model and device: decoding uses "tiled"/"whole"
// (tiling changes the peak far more than attention does), the other phases the attention mode.
CalibrationKey calibration_key(const std::string& model, sdk::Phase phase, const sdk::RuntimeOptions& options,
                               sdk::Device device);

struct CalibrationSettings {
  double alpha = 0.5;       // weight of the newest observation in the moving average (0, 1]
  double min_ratio = 0.25;  // clamp of the learnt ratio: an estimate is never scaled below a
  double max_ratio = 4.0;   // quarter of itself nor above four times itself
};

class MemoryCalibration {
 public:
  // Loads `file` when it exists (see above for a bad file); "" keeps everything in memory. Throws
  // sdk::Error(invalid_request) for settings out of range (alpha not in (0, 1], min > max, min <= 0).
  explicit MemoryCalibration(std::string file = {}, CalibrationSettings settings = {});

  // Each call takes a CalibrationKey or its str().
  // The learnt ratio for the key; 1 when unknown.
  double ratio(const std::string& key) const;
  double ratio(const CalibrationKey& key) const { return ratio(key.str()); }
  // estimate x ratio(key), rounded to bytes.
  std::uint64_t calibrated(const CalibrationKey& key, std::uint64_t estimate) const;
  // Folds measured / estimate into the key's average (clamped) and saves the file. Returns the new
  // ratio, or the old one when the pair was ignored (either number 0). A file that cannot be written
  // is logged as a warning; the ratio is still kept in memory.
  double record(const std::string& key, std::uint64_t estimate, std::uint64_t measured);
  double record(const CalibrationKey& key, std::uint64_t estimate, std::uint64_t measured) {
    return record(key.str(), estimate, measured);
  }
  // Observations folded in for the key so far.
  int samples(const std::string& key) const;
  int samples(const CalibrationKey& key) const { return samples(key.str()); }

  const std::string& file() const { return file_; }
  const CalibrationSettings& settings() const { return settings_; }

 private:
  struct Entry {
    double ratio = 1;
    int samples = 0;
  };
  void load();
  void save() const;  // caller holds mutex_
  double clamp(double r) const;

  std::string file_;
  CalibrationSettings settings_;
  mutable std::mutex mutex_;
  std::map<std::string, Entry> entries_;
};

}  // namespace ftdr::framework
