// The transition table of execution_state.hpp.
#include "ftdr/framework/jobs/execution_state.hpp"

#include <array>
#include <initializer_list>

namespace ftdr::framework {
namespace {

using S = ExecutionState;
constexpr int idx(S s) { return static_cast<int>(s); }

// kTable[from][to]: rows are the current state, columns the next one. Written out in full, so the
// whole machine can be read in one place.
constexpr std::array<std::array<bool, kExecutionStateCount>, kExecutionStateCount> kTable = [] {
  std::array<std::array<bool, kExecutionStateCount>, kExecutionStateCount> t{};
  auto allow = [&t](S from, std::initializer_list<S> to) {
    for (S s : to) t[idx(from)][idx(s)] = true;
  };
  allow(S::idle, {S::initializing, S::cancelled});
  // Later attempts skip phases whose artifacts survive: straight to diffusion or decoding.
  allow(S::initializing,
        {S::encoding_prompt, S::diffusion_running, S::decoding, S::failed, S::retry_pending, S::cancelled});
  allow(S::encoding_prompt, {S::diffusion_running, S::failed, S::retry_pending, S::cancelled});
  allow(S::diffusion_running, {S::decoding, S::failed, S::retry_pending, S::cancelled});
  // DECODING → DIFFUSION_RUNNING: the next sub-batch of a split batch. DECODING → ENCODING_PROMPT:
  // a refused checkpoint (another request's latents) when the conditioning is gone too.
  allow(S::decoding,
        {S::completed, S::encoding_prompt, S::diffusion_running, S::failed, S::retry_pending, S::cancelled});
  allow(S::retry_pending, {S::initializing, S::cancelled});
  // COMPLETED, FAILED, CANCELLED: terminal, no way out.
  return t;
}();

}  // namespace

std::string_view to_string(ExecutionState state) noexcept {
  switch (state) {
    case S::idle: return "IDLE";
    case S::initializing: return "INITIALIZING";
    case S::encoding_prompt: return "ENCODING_PROMPT";
    case S::diffusion_running: return "DIFFUSION_RUNNING";
    case S::decoding: return "DECODING";
    case S::completed: return "COMPLETED";
    case S::failed: return "FAILED";
    case S::retry_pending: return "RETRY_PENDING";
    case S::cancelled: return "CANCELLED";
  }
  return "UNKNOWN";
}

bool is_legal_transition(ExecutionState from, ExecutionState to) noexcept {
  const int f = idx(from), t = idx(to);
  if (f < 0 || f >= kExecutionStateCount || t < 0 || t >= kExecutionStateCount) return false;
  return kTable[f][t];
}

std::vector<ExecutionState> legal_successors(ExecutionState from) {
  std::vector<ExecutionState> out;
  for (int t = 0; t < kExecutionStateCount; ++t) {
    if (is_legal_transition(from, static_cast<S>(t))) out.push_back(static_cast<S>(t));
  }
  return out;
}

bool is_terminal(ExecutionState state) noexcept {
  return state == S::completed || state == S::failed || state == S::cancelled;
}

std::optional<sdk::Phase> phase_of(ExecutionState state) noexcept {
  switch (state) {
    case S::initializing: return sdk::Phase::initializing;
    case S::encoding_prompt: return sdk::Phase::encoding;
    case S::diffusion_running: return sdk::Phase::diffusion;
    case S::decoding: return sdk::Phase::decoding;
    default: return std::nullopt;
  }
}

}  // namespace ftdr::framework
