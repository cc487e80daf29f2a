// ftdr/sdk/recovery.hpp: recovery strategies decide what to do after a failed attempt.
//
// The engine classifies every failure into an ErrorKind and asks the strategy, with the history of
// earlier attempts and the parameters of the one that failed: retry (after a delay, from a phase,
// with changed parameters) or give up. Called from worker threads, one call at a time per object.
//
//   RecoveryDecision decide(const Failure& f, const std::vector<Attempt>& h,
//                           const GenerationParams& p) override {
//     RecoveryDecision d; d.params = p;
//     d.retry = f.kind == ErrorKind::device_error && h.size() < 3;
//     d.resume_phase = f.phase; d.delay_ms = 100; d.change = "retry as is";
//     return d;
//   }
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "ftdr/sdk/error.hpp"
#include "ftdr/sdk/plugin.hpp"
#include "ftdr/sdk/types.hpp"

namespace ftdr::sdk {

struct Failure {
  ErrorKind kind = ErrorKind::internal;
  Phase phase = Phase::initializing;
  int step = 0;  // diffusion steps completed when it failed
  std::string message;
};

// One finished attempt, as recorded in the job's result.
struct Attempt {
  int number = 1;  // 1-based
  Failure failure;
  std::string change;  // what the next attempt changed ("" for the last)
  std::int64_t delay_ms = 0;
};

struct RecoveryDecision {
  bool retry = false;
  Phase resume_phase = Phase::encoding;  // the engine resumes from its newest checkpoint there
  GenerationParams params;               // parameters for the next attempt
  bool split_batch = false;              // run params.batch as two halves, one after the other
  bool degraded = false;                 // the output will differ from the request (resolution)
  std::int64_t delay_ms = 0;             // wait before retrying (the engine uses a timer)
  std::string change;                    // "attention slicing on", "batch 4 -> 2 + 2", ...
  std::string reason;                    // why giving up, when retry is false
};

class FTDR_SDK_INTERFACE RecoveryStrategy : public Plugin {
 public:
  virtual RecoveryDecision decide(const Failure& failure, const std::vector<Attempt>& history,
                                  const GenerationParams& current) = 0;
};

template <>
struct plugin_interface<PluginKind::recovery> {
  using type = RecoveryStrategy;
};

}  // namespace ftdr::sdk
