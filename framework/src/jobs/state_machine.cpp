#include "ftdr/framework/jobs/state_machine.hpp"

#include <string>

#include <spdlog/spdlog.h>

#include "ftdr/sdk/error.hpp"

namespace ftdr::framework {
namespace {

StateStamp stamp(ExecutionState s) {
  return {s, std::chrono::steady_clock::now(), std::chrono::system_clock::now()};
}

}  // namespace

StateMachine::StateMachine(std::uint64_t job_id) : job_id_(job_id) {
  history_.reserve(8);
  history_.push_back(stamp(ExecutionState::idle));
}

ExecutionState StateMachine::transition(ExecutionState to) {
  const ExecutionState from = state_;
  if (!is_legal_transition(from, to)) {
    std::string allowed;
    for (ExecutionState s : legal_successors(from)) {
      if (!allowed.empty()) allowed += ", ";
      allowed += to_string(s);
    }
    const std::string msg = "job " + std::to_string(job_id_) + ": illegal state transition " +
                            std::string(to_string(from)) + " -> " + std::string(to_string(to)) +
                            " (allowed from " + std::string(to_string(from)) + ": " +
                            (allowed.empty() ? "none, it is terminal" : allowed) + ")";
    spdlog::error("{}", msg);
    throw sdk::Error(sdk::ErrorKind::internal, msg);
  }
  state_ = to;
  history_.push_back(stamp(to));
  spdlog::debug("job {}: {} -> {}", job_id_, to_string(from), to_string(to));
  return from;
}

}  // namespace ftdr::framework
