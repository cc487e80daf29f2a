// progressive_recovery.cpp: see progressive_recovery.h for the rules.
#include "progressive_recovery.hpp"

#include <optional>
#include <string>
#include <utility>

#include "backoff.hpp"
#include "oom_ladder.hpp"

namespace ftdr::plugins {
namespace {

using sdk::ErrorKind;

bool never_retried(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::invalid_request:
    case ErrorKind::model_error:
    case ErrorKind::cancelled:
    case ErrorKind::plugin_error:
    case ErrorKind::internal: return true;
    default: return false;
  }
}

// Earlier attempts that failed with `kind` (in `phase`, when given).
int count_failures(const std::vector<sdk::Attempt>& history, ErrorKind kind,
                   std::optional<sdk::Phase> phase) {
  int n = 0;
  for (const auto& a : history)
    if (a.failure.kind == kind && (!phase || a.failure.phase == *phase)) ++n;
  return n;
}

std::string ladder_text(const std::vector<Rung>& ladder) {
  std::string out;
  for (Rung r : ladder) out += (out.empty() ? "" : ", ") + std::string(to_string(r));
  return "[" + out + "]";
}

std::string phase_name(sdk::Phase p) { return std::string(to_string(p)); }

}  // namespace

ProgressiveRecovery::ProgressiveRecovery(ProgressiveSettings settings, std::shared_ptr<sdk::Logger> logger)
    : settings_(std::move(settings)), logger_(std::move(logger)) {}

sdk::RecoveryDecision ProgressiveRecovery::decide(const sdk::Failure& failure,
                                                  const std::vector<sdk::Attempt>& history,
                                                  const sdk::GenerationParams& current) {
  sdk::RecoveryDecision d;
  d.params = current;
  d.resume_phase = failure.phase;
  const int n = static_cast<int>(history.size()) + 1;  // the retry being decided
  bool retry = false;
  // The first and last branches give the same reason on purpose: a kind that is never retried must
  // not be reported as "retries exhausted".
  if (never_retried(failure.kind)) {  // NOLINT(bugprone-branch-clone)
    d.reason = std::string(to_string(failure.kind)) + " is not retried";
  } else if (n > settings_.max_retries) {
    d.reason = "retries exhausted (" + std::to_string(settings_.max_retries) + ")";
  } else if (failure.kind == ErrorKind::out_of_memory) {
    retry = decide_oom(failure, history, d);
  } else if (failure.kind == ErrorKind::numerical_error) {
    retry = decide_numerical(failure, history, d);
  } else if (failure.kind == ErrorKind::device_error) {
    retry = decide_repeat(failure, history, settings_.device_error_retries, d);
  } else if (failure.kind == ErrorKind::timeout) {
    retry = decide_repeat(failure, history, settings_.timeout_retries, d);
  } else {
    d.reason = std::string(to_string(failure.kind)) + " is not retried";
  }
  d.retry = retry;
  if (retry) {
    d.delay_ms = backoff_delay_ms(settings_, current.request.seed, n);
    d.reason.clear();
  }
  if (logger_ && logger_->enabled(sdk::LogLevel::debug))
    logger_->debug("progressive: " + std::string(to_string(failure.kind)) + " in " +
                   phase_name(failure.phase) + " -> " +
                   (retry ? "retry " + std::to_string(n) + ": " + d.change : "give up: " + d.reason));
  return d;
}

bool ProgressiveRecovery::decide_oom(const sdk::Failure& f, const std::vector<sdk::Attempt>& history,
                                     sdk::RecoveryDecision& d) const {
  const auto& ladder = settings_.ladder(f.phase);
  for (Rung rung : ladder)
    if (apply_rung(rung, f, history, settings_, d)) return true;
  if (f.phase == sdk::Phase::initializing) {
    d.reason = "out of memory while initializing: nothing to degrade";
  } else {
    d.reason = "out of memory in " + phase_name(f.phase) + " and nothing left on " + phase_name(f.phase) +
               "_oom_ladder " + ladder_text(ladder);
  }
  return false;
}

bool ProgressiveRecovery::decide_numerical(const sdk::Failure& f, const std::vector<sdk::Attempt>& history,
                                           sdk::RecoveryDecision& d) const {
  const int earlier = count_failures(history, ErrorKind::numerical_error, f.phase);
  const std::string phase = phase_name(f.phase);
  if (earlier >= settings_.numerical_retries) {
    d.reason = "numerical error in " + phase + " persists after " + std::to_string(earlier) + " retries";
    return false;
  }
  auto& o = d.params.options;
  if (f.phase == sdk::Phase::decoding && !o.upcast_vae) {
    o.upcast_vae = true;
    d.change = "VAE upcast to f32, decoding again";
  } else if (f.phase != sdk::Phase::decoding && o.dtype != sdk::DType::f32) {
    d.change = "dtype " + std::string(to_string(o.dtype)) + " -> f32, retry " + phase;
    o.dtype = sdk::DType::f32;
  } else {
    d.change = "retry " + phase + " as is (numerical error " + std::to_string(earlier + 1) + " of " +
               std::to_string(settings_.numerical_retries) + ")";
  }
  return true;
}

bool ProgressiveRecovery::decide_repeat(const sdk::Failure& f, const std::vector<sdk::Attempt>& history,
                                        int allowed, sdk::RecoveryDecision& d) const {
  const std::string kind(to_string(f.kind));
  const int earlier = count_failures(history, f.kind, std::nullopt);
  if (earlier >= allowed) {
    d.reason = kind + " again after " + std::to_string(earlier) + " retries (" + kind +
               " retries: " + std::to_string(allowed) + ")";
    return false;
  }
  const char* how = f.kind == ErrorKind::device_error ? " after device cleanup (" : " (";
  d.change = "retry " + phase_name(f.phase) + how + kind + " " + std::to_string(earlier + 1) + " of " +
             std::to_string(allowed) + ")";
  return true;
}

}  // namespace ftdr::plugins
