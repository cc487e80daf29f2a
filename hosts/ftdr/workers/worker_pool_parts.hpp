// Private to worker_pool.cpp and worker_supervisor.cpp: a worker slot and a job as the pool keeps them.
#pragma once
#include "worker_pool.hpp"

namespace ftdr::host::workers {

using Clock = std::chrono::steady_clock;

// One worker: a process the pool started (supervised) or one that connected by itself.
struct WorkerPool::Slot {
  int index = 0;
  bool supervised = true;
  pid_t pid = 0;
  SlotState state = SlotState::starting;
  std::shared_ptr<framework::FrameChannel> channel;  // null until its hello
  framework::JobId job = 0;                          // the job it runs, 0 = none
  Clock::time_point started, last_frame, last_progress, restart_at;
  std::string kill_cause, kill_detail;  // why the pool killed it, or what it reported before exiting
  int restarts = 0, crashes_in_row = 0;
  bool was_ready = false;
};

struct WorkerPool::PoolJob {
  framework::JobId id = 0;
  sdk::GenerationRequest request;
  sdk::Priority priority = sdk::Priority::normal;
  framework::JobCallbacks callbacks;
  std::string job_dir;
  framework::ExecutionState state = framework::ExecutionState::idle;
  int step = 0, total_steps = 0, checkpoint_step = 0;
  std::uint64_t sequence = 0;  // its place in the queue
  int slot = -1;               // running on slots_[slot]
  int runs = 0, crashes = 0;
  std::vector<sdk::Attempt> crash_attempts;  // one per worker it brought down, oldest first
  bool cancel_requested = false;
  Clock::time_point submitted, first_run;
};

const char* slot_state_name(int state);

}  // namespace ftdr::host::workers
