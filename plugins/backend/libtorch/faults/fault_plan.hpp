// faults/fault_plan.hpp: deliberate failures the libtorch backend injects, to test recovery end to end.
//
// Pure C++ (no libtorch): the backend parses a plan once, from the `faults` table of its config
// view and/or the environment variable FTDR_FAULTS, and asks it at every injection point whether to
// fail there. In a config file that table is the top-level [faults]: the host hands it to the
// backend plugin as `faults` (framework/config.hpp); it is the only fault-injection mechanism (the
// test_backend fixture compiles this file in too). The points:
//   check(Phase::encoding, 0)   before encoding
//   check(Phase::diffusion, k)  before denoising step k (1-based: k = steps already done + 1)
//   check(Phase::decoding, 0)   before decoding
// and carries out the answer: oom -> throw as_error(action) (ErrorKind::out_of_memory),
// device_error -> throw as_error(action), nan -> poison the latents/images with NaN so the health
// check reports a numerical_error, slow -> sleep action.ms before the step, crash -> std::abort(),
// hang -> block forever, sticky -> throw as_error(action), a device_error tagged sticky
// ("[sticky: ...]", as adapter/error_classifier.cpp tags a lost CUDA context): from then on every check of
// this plan answers the same sticky error, as a lost CUDA context fails every later call until the process
// exits. crash, hang and sticky_device_error are for `ftdr serve` with [workers] (docs/workers.md): the
// supervisor restarts the worker process; in one process they end it, hang it or fail every job.
//
// Config form (every value a string; several specs for one kind separated by ','):
//   oom          = "diffusion:step=7"            fail step 7 once
//   device_error = "decode"                      fail decoding once
//   nan          = "diffusion:step=3:times=2"    twice (a retry that reaches step 3 fails again)
//   slow_step    = "diffusion:step=2:ms=500"     sleep 500 ms before step 2
//   chaos        = "seed=1:p=0.05"               seeded random faults (below)
//   crash        = "diffusion:step=7"            abort() the process before step 7
//   hang         = "decode"                      block forever before decoding
//   sticky_device_error = "diffusion:step=5"     a sticky device error at step 5 and at every later point
// Rule spec: <phase>[:step=N][:times=N|always][:ms=N]
//   phase  encode | diffusion | decode
//   step   diffusion only, N >= 1; absent = the first diffusion check (any step)
//   times  how many times the rule fires in total, N >= 1 or "always"; default 1, so a retry succeeds
//   ms     slow_step only, and required there: the delay in milliseconds
// Chaos spec: seed=N:p=P[:kinds=K+K...][:phases=P+P...][:times=N|always][:ms=N]
//   at every check in one of `phases` (default all), with probability p (0..1) a fault of a kind
//   drawn uniformly from `kinds` (oom, device_error, nan, slow; default oom+device_error+nan)
//   fires; `times` caps the total (default always); `ms` is the slow delay (default 100). The draws
//   come from one std::mt19937_64 seeded with `seed`: the same sequence of checks gives the same
//   faults. Fixed rules are tried first; chaos only when none fired.
// Counting across processes: with the environment variable FTDR_FAULT_COUNTS naming a file, a fixed
// rule's firings are counted in that file (under flock), so `times` is the total over every process
// that shares it: `ftdr serve` points its worker processes at <state_dir>/worker-fault-counts, and a
// crash with times=1 fires once, not once per restarted worker. Unset: each plan counts alone.
// Environment form: FTDR_FAULTS="oom=diffusion:step=7;nan=diffusion:step=3" (entries separated by
// ';', each <kind>=<spec> as above).
//
// Bad specs throw Error(invalid_request) naming the source (config position or FTDR_FAULTS), the
// key, the value and the expected form. check() is thread-safe: each firing is counted under one
// lock, so a rule with times=N fires exactly N times however many threads ask.
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ftdr/sdk/config_view.hpp"
#include "ftdr/sdk/error.hpp"
#include "ftdr/sdk/types.hpp"

namespace ftdr::torchbe {

enum class FaultKind { oom, device_error, nan, slow, crash, hang, sticky };

std::string_view to_string(FaultKind kind);

struct FaultAction {
  FaultKind kind = FaultKind::oom;
  int ms = 0;           // slow: milliseconds to sleep
  std::string message;  // "injected oom at diffusion step 7 (oom = \"diffusion:step=7\", firing 1 of 1)"
};

// True for the kinds the backend throws (oom, device_error, sticky).
bool is_error(FaultKind kind);
// The Error to throw for an oom, device_error or sticky action (kind out_of_memory / device_error; the
// message says "out of memory" for oom, as CUDA's does, and carries the "[sticky: ...]" tag for
// sticky). Throws std::logic_error for the other kinds.
sdk::Error as_error(const FaultAction& action);

// True for crash and hang, which end or stop the process instead of failing the call.
bool is_fatal(FaultKind kind);
// Carries out a crash (std::abort()) or a hang (blocks the calling thread forever). Throws
// std::logic_error for the other kinds.
void carry_out_fatal(const FaultAction& action);

class FaultPlan {
 public:
  FaultPlan();
  FaultPlan(FaultPlan&&) noexcept;
  FaultPlan& operator=(FaultPlan&&) noexcept;
  ~FaultPlan();

  // The config's [faults] table (the backend's `faults`): keys oom, device_error, nan, slow_step, crash,
  // hang, sticky_device_error, chaos.
  // Unknown keys and bad specs are rejected through ConfigView::reject (file:line:col, key, expected form).
  static FaultPlan parse(const sdk::ConfigView& table);
  // The FTDR_FAULTS form; `source` names the text in error messages.
  static FaultPlan parse(std::string_view text, std::string_view source = "FTDR_FAULTS");
  // Parses the environment variable FTDR_FAULTS; an empty plan when it is unset or empty.
  static FaultPlan from_environment();

  // Appends the other plan's rules after this one's; its chaos (if any) replaces this one's.
  void merge(FaultPlan&& other);
  bool empty() const;
  // One line per rule, for diagnostics: "oom = \"diffusion:step=7\" (1 left)".
  std::vector<std::string> describe() const;

  // The fault to inject at this point, if any (see the top of this file). Thread-safe.
  std::optional<FaultAction> check(sdk::Phase phase, int step);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace ftdr::torchbe
