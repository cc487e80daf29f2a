// ftdr/framework/jobs/execution_state.hpp: the states a job passes through, and the one table that says
// which transitions are legal.
//
// A job starts IDLE (queued), runs INITIALIZING → ENCODING_PROMPT → DIFFUSION_RUNNING → DECODING →
// COMPLETED, and may end FAILED or CANCELLED from any non-terminal state. A failed attempt that the
// recovery strategy retries goes to RETRY_PENDING; the next attempt starts at INITIALIZING again and
// skips the phases whose artifacts it still holds (INITIALIZING → DIFFUSION_RUNNING or → DECODING).
// A job split into sub-batches goes DECODING → DIFFUSION_RUNNING for the next sub-batch; a
// checkpoint refused at decoding (made for another request) sends it back to ENCODING_PROMPT or
// DIFFUSION_RUNNING to make the sub-batch again.
//
//   if (!is_legal_transition(from, to)) throw sdk::Error(sdk::ErrorKind::internal, ...);
//
// StateMachine (state_machine.hpp) is the only place that changes a job's state, and it consults
// this table on every change.
#pragma once
#include <optional>
#include <string_view>
#include <vector>

#include "ftdr/sdk/types.hpp"

namespace ftdr::framework {

enum class ExecutionState {
  idle,               // accepted and queued, never run
  initializing,       // validate, memory stats, placement for the next phase
  encoding_prompt,    // backend.encode
  diffusion_running,  // backend.denoise, step by step
  decoding,           // backend.decode (+ writing the images)
  completed,          // terminal: images available
  failed,             // terminal: recovery gave up or the failure is permanent
  retry_pending,      // waiting for the retry timer or for a worker
  cancelled,          // terminal: the user cancelled it
};

inline constexpr int kExecutionStateCount = 9;

// "IDLE", "INITIALIZING", ... (upper case, as in logs and the design document).
std::string_view to_string(ExecutionState state) noexcept;

// True when the table allows from → to. Staying in the same state is never a transition.
bool is_legal_transition(ExecutionState from, ExecutionState to) noexcept;

// The states reachable from `from` in one transition, in enum order (for messages and tests).
std::vector<ExecutionState> legal_successors(ExecutionState from);

// COMPLETED, FAILED, CANCELLED.
bool is_terminal(ExecutionState state) noexcept;

// The phase a running state belongs to (for recovery and status); nothing for the others.
std::optional<sdk::Phase> phase_of(ExecutionState state) noexcept;

}  // namespace ftdr::framework
