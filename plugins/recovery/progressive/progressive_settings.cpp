// progressive_settings.cpp: see progressive_settings.h for the keys.
#include "progressive_settings.hpp"

#include <array>

namespace ftdr::plugins {
namespace {

constexpr std::array<Rung, 6> kRungs{Rung::offload,     Rung::slicing,           Rung::smaller_slices,
                                     Rung::split_batch, Rung::reduce_resolution, Rung::tiling};

std::string allowed_names(sdk::Phase phase) {
  std::string out;
  for (Rung r : kRungs)
    if (rung_allowed(r, phase)) out += (out.empty() ? "" : ", ") + std::string(to_string(r));
  return out;
}

std::vector<Rung> read_ladder(const sdk::ConfigView& cfg, const std::string& key, sdk::Phase phase,
                              std::vector<Rung> fallback) {
  if (!cfg.has(key)) return fallback;
  std::vector<Rung> ladder;
  for (const auto& name : cfg.get_string_list(key)) {
    auto rung = parse_rung(name);
    if (!rung || !rung_allowed(*rung, phase))
      cfg.reject(key, "a list of rungs from: " + allowed_names(phase) + " (got \"" + name + "\")");
    ladder.push_back(*rung);
  }
  return ladder;
}

int read_int(const sdk::ConfigView& cfg, const std::string& key, int fallback, int min,
             const std::string& expected) {
  const std::int64_t v = cfg.get_int(key, fallback);
  if (v < min || v > 1'000'000'000) cfg.reject(key, expected);
  return static_cast<int>(v);
}

void read_backoff(const sdk::ConfigView& cfg, ProgressiveSettings& s) {
  s.backoff_initial_ms = read_int(cfg, "backoff_initial_ms", 200, 0, "a delay in milliseconds >= 0");
  s.backoff_max_ms = read_int(cfg, "backoff_max_ms", 5000, 0, "a delay in milliseconds >= 0");
  if (s.backoff_max_ms < s.backoff_initial_ms)
    cfg.reject("backoff_max_ms",
               "a delay >= backoff_initial_ms (" + std::to_string(s.backoff_initial_ms) + ")");
  s.jitter = cfg.get_double("jitter", 0.2);
  if (!(s.jitter >= 0.0 && s.jitter <= 1.0)) cfg.reject("jitter", "a fraction between 0 and 1");
  s.seed = static_cast<std::uint64_t>(cfg.get_int("seed", 0));
}

void read_degradation(const sdk::ConfigView& cfg, ProgressiveSettings& s) {
  s.slice_size = read_int(cfg, "slice_size", 0, 0, "query rows per slice >= 0 (0 = backend's choice)");
  s.small_slice_size = read_int(cfg, "small_slice_size", 256, 1, "query rows per slice >= 1");
  s.resolution_factor = cfg.get_double("resolution_factor", 0.75);
  if (!(s.resolution_factor > 0.0 && s.resolution_factor < 1.0))
    cfg.reject("resolution_factor", "a factor strictly between 0 and 1");
  s.size_multiple = read_int(cfg, "size_multiple", 64, 8, "a multiple of 8, >= 8");
  if (s.size_multiple % 8 != 0) cfg.reject("size_multiple", "a multiple of 8, >= 8");
  s.min_size = read_int(cfg, "min_size", 256, s.size_multiple,
                        "pixels >= size_multiple (" + std::to_string(s.size_multiple) + ")");
}

}  // namespace

std::string_view to_string(Rung rung) {
  switch (rung) {
    case Rung::offload: return "offload";
    case Rung::slicing: return "slicing";
    case Rung::smaller_slices: return "smaller_slices";
    case Rung::split_batch: return "split_batch";
    case Rung::reduce_resolution: return "reduce_resolution";
    case Rung::tiling: return "tiling";
  }
  return "offload";
}

std::optional<Rung> parse_rung(std::string_view name) {
  for (Rung r : kRungs)
    if (to_string(r) == name) return r;
  return std::nullopt;
}

bool rung_allowed(Rung rung, sdk::Phase phase) {
  switch (rung) {
    case Rung::offload: return phase != sdk::Phase::initializing;
    case Rung::slicing:
    case Rung::smaller_slices:
    case Rung::split_batch:
    case Rung::reduce_resolution: return phase == sdk::Phase::diffusion;
    case Rung::tiling: return phase == sdk::Phase::decoding;
  }
  return false;
}

const std::vector<Rung>& ProgressiveSettings::ladder(sdk::Phase phase) const {
  static const std::vector<Rung> none;
  switch (phase) {
    case sdk::Phase::encoding: return encoding_oom_ladder;
    case sdk::Phase::diffusion: return diffusion_oom_ladder;
    case sdk::Phase::decoding: return decoding_oom_ladder;
    default: return none;
  }
}

ProgressiveSettings read_progressive_settings(const sdk::ConfigView* config) {
  ProgressiveSettings s;
  if (config == nullptr) return s;
  const auto& cfg = *config;
  s.max_retries = read_int(cfg, "max_retries", 8, 0, "an integer >= 0");
  read_backoff(cfg, s);
  s.encoding_oom_ladder =
      read_ladder(cfg, "encoding_oom_ladder", sdk::Phase::encoding, s.encoding_oom_ladder);
  s.diffusion_oom_ladder =
      read_ladder(cfg, "diffusion_oom_ladder", sdk::Phase::diffusion, s.diffusion_oom_ladder);
  s.decoding_oom_ladder =
      read_ladder(cfg, "decoding_oom_ladder", sdk::Phase::decoding, s.decoding_oom_ladder);
  read_degradation(cfg, s);
  s.numerical_retries = read_int(cfg, "numerical_retries", 2, 0, "an integer >= 0");
  s.device_error_retries = read_int(cfg, "device_error_retries", 2, 0, "an integer >= 0");
  s.timeout_retries = read_int(cfg, "timeout_retries", 1, 0, "an integer >= 0");
  return s;
}

}  // namespace ftdr::plugins
