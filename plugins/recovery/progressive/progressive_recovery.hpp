// progressive_recovery.h: the `progressive` recovery strategy: a phase-aware degradation ladder.
//
// decide(failure, history, current), where `history` holds the attempts BEFORE the one that failed
// (so the retry being decided is number history.size() + 1) and `current` the failed attempt's
// parameters. Rules, in order:
//   1. invalid_request, model_error, cancelled, plugin_error, internal: give up at once
//      ("<kind> is not retried").
//   2. history.size() + 1 > max_retries: give up, "retries exhausted (<max_retries>)".
//   3. out_of_memory: the failed phase's ladder (oom_ladder.h), first rung that changes something;
//      none left: give up naming the phase and the ladder. (OOM while initializing: give up.)
//   4. numerical_error: up to numerical_retries per phase. Decoding: upcast_vae on if it is off;
//      other phases: dtype f32 if it is not; else retry the phase as is.
//   5. device_error: up to device_error_retries per job, retry the phase (the engine cleans up).
//   6. timeout: up to timeout_retries per job, retry the phase.
// Every retry resumes at the failed phase, after backoff_delay_ms(n) (backoff.h); `change` is one
// human-readable line. The strategy keeps no per-job state: it reads everything from its arguments.
#pragma once
#include <memory>
#include <vector>

#include "ftdr/sdk/logger.hpp"
#include "ftdr/sdk/recovery.hpp"
#include "progressive_settings.hpp"

namespace ftdr::plugins {

class ProgressiveRecovery final : public sdk::RecoveryStrategy {
 public:
  explicit ProgressiveRecovery(ProgressiveSettings settings, std::shared_ptr<sdk::Logger> logger = nullptr);

  sdk::RecoveryDecision decide(const sdk::Failure& failure, const std::vector<sdk::Attempt>& history,
                               const sdk::GenerationParams& current) override;

  const ProgressiveSettings& settings() const { return settings_; }

 private:
  bool decide_oom(const sdk::Failure& f, const std::vector<sdk::Attempt>& history,
                  sdk::RecoveryDecision& d) const;
  bool decide_numerical(const sdk::Failure& f, const std::vector<sdk::Attempt>& history,
                        sdk::RecoveryDecision& d) const;
  bool decide_repeat(const sdk::Failure& f, const std::vector<sdk::Attempt>& history, int allowed,
                     sdk::RecoveryDecision& d) const;

  ProgressiveSettings settings_;
  std::shared_ptr<sdk::Logger> logger_;
};

}  // namespace ftdr::plugins
