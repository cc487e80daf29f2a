// ftdr/framework/jobs/state_machine.hpp: one job's state, changed only through the transition table.
//
// transition() checks execution_state.hpp's table, throws sdk::Error(internal) naming both states
// for an illegal change (the state is then left as it was), logs every legal change through spdlog
// (debug level: "job 7: IDLE -> INITIALIZING") and appends {state, time} to history().
//
//   StateMachine sm(7);                               // starts IDLE, history = [{IDLE, t0}]
//   sm.transition(ExecutionState::initializing);
//   sm.transition(ExecutionState::completed);         // throws: INITIALIZING -> COMPLETED
//
// Not synchronised: the owner (Job) guards it with its own mutex.
#pragma once
#include <chrono>
#include <cstdint>
#include <vector>

#include "ftdr/framework/jobs/execution_state.hpp"

namespace ftdr::framework {

// When a job entered a state. `steady` for durations, `wall` for logs.
struct StateStamp {
  ExecutionState state = ExecutionState::idle;
  std::chrono::steady_clock::time_point steady;
  std::chrono::system_clock::time_point wall;
};

class StateMachine {
 public:
  explicit StateMachine(std::uint64_t job_id);

  ExecutionState state() const { return state_; }
  // Every state entered, oldest first; the first entry is IDLE at construction.
  const std::vector<StateStamp>& history() const { return history_; }

  // Moves to `to` or throws sdk::Error(internal) "job 7: illegal state transition
  // INITIALIZING -> COMPLETED (allowed: ...)". Returns the state left.
  ExecutionState transition(ExecutionState to);

 private:
  std::uint64_t job_id_;
  ExecutionState state_ = ExecutionState::idle;
  std::vector<StateStamp> history_;
};

}  // namespace ftdr::framework
