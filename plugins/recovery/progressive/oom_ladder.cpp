// oom_ladder.cpp: see oom_ladder.h for what each rung does and when it applies.
#include "oom_ladder.hpp"

#include <cmath>
#include <string>

namespace ftdr::plugins {
namespace {

using sdk::AttentionMode;

std::string slice_text(int rows) {
  return rows == 0 ? std::string("backend's choice") : std::to_string(rows) + " query rows";
}

bool offload(const sdk::Failure& f, const std::vector<sdk::Attempt>& history, sdk::RecoveryDecision& d) {
  for (const auto& a : history)
    if (a.failure.kind == sdk::ErrorKind::out_of_memory && a.failure.phase == f.phase) return false;
  d.change = "offload the other components and empty the cache, retry " + std::string(to_string(f.phase));
  return true;
}

bool slicing(const ProgressiveSettings& s, sdk::RecoveryDecision& d) {
  auto& o = d.params.options;
  if (o.attention == AttentionMode::sliced) return false;
  o.attention = AttentionMode::sliced;
  o.attention_slice_size = s.slice_size;
  d.change = "attention slicing on (slice size: " + slice_text(s.slice_size) + ")";
  return true;
}

bool smaller_slices(const ProgressiveSettings& s, sdk::RecoveryDecision& d) {
  auto& o = d.params.options;
  const bool already_small = o.attention == AttentionMode::sliced && o.attention_slice_size > 0 &&
                             o.attention_slice_size <= s.small_slice_size;
  if (already_small) return false;
  const std::string before =
      o.attention == AttentionMode::sliced ? slice_text(o.attention_slice_size) : std::string("unsliced");
  o.attention = AttentionMode::sliced;
  o.attention_slice_size = s.small_slice_size;
  d.change = "smaller attention slices: " + before + " -> " + slice_text(s.small_slice_size);
  return true;
}

bool split_batch(sdk::RecoveryDecision& d) {
  const int b = d.params.batch;
  if (b <= 1) return false;
  d.split_batch = true;
  d.change = "batch " + std::to_string(b) + " -> " + std::to_string((b + 1) / 2) + " + " +
             std::to_string(b / 2) + ", one after the other";
  return true;
}

bool reduce_resolution(const ProgressiveSettings& s, sdk::RecoveryDecision& d) {
  auto& p = d.params;
  const int w = scaled_size(p.width, s.resolution_factor, s.size_multiple);
  const int h = scaled_size(p.height, s.resolution_factor, s.size_multiple);
  if (w < s.min_size || h < s.min_size) return false;
  d.change = "resolution " + std::to_string(p.width) + "x" + std::to_string(p.height) + " -> " +
             std::to_string(w) + "x" + std::to_string(h) + " (degraded)";
  p.width = w;
  p.height = h;
  d.degraded = true;
  return true;
}

bool tiling(sdk::RecoveryDecision& d) {
  if (d.params.options.vae_tiling) return false;
  d.params.options.vae_tiling = true;
  d.change = "VAE tiling on, decoding again from the finished latents";
  return true;
}

}  // namespace

int scaled_size(int pixels, double factor, int multiple) {
  const auto scaled = static_cast<long long>(std::floor(pixels * factor));
  return static_cast<int>(scaled / multiple * multiple);
}

bool apply_rung(Rung rung, const sdk::Failure& failure, const std::vector<sdk::Attempt>& history,
                const ProgressiveSettings& settings, sdk::RecoveryDecision& decision) {
  sdk::RecoveryDecision trial = decision;
  bool applied = false;
  switch (rung) {
    case Rung::offload: applied = offload(failure, history, trial); break;
    case Rung::slicing: applied = slicing(settings, trial); break;
    case Rung::smaller_slices: applied = smaller_slices(settings, trial); break;
    case Rung::split_batch: applied = split_batch(trial); break;
    case Rung::reduce_resolution: applied = reduce_resolution(settings, trial); break;
    case Rung::tiling: applied = tiling(trial); break;
  }
  if (applied) decision = std::move(trial);
  return applied;
}

}  // namespace ftdr::plugins
