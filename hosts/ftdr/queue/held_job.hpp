// hosts/ftdr/queue/held_job.hpp: one job a QueueRunner claimed: its lease and what the runner knows
// of it. The runner's threads and the JobRunner's callbacks share it; every field but `lease` is
// read and written under the runner's mutex (QueueFilesHooks locks the same one).
#pragma once
#include <string>

#include "ftdr/framework/jobs/job.hpp"
#include "ftdr/sdk/error.hpp"
#include "ftdr/sdk/queue.hpp"

namespace ftdr::host::queue {

struct HeldJob {
  sdk::Lease lease;
  framework::JobId engine_id = 0;  // in the JobRunner; 0 = not submitted (yet)
  bool client_cancel = false;      // the lease said cancel_requested: complete "cancelled"
  bool lost = false;               // the lease is gone: report nothing more
  // [queue] files = "queue" (queue_files_hooks.hpp)
  std::string folder;  // the engine's checkpoint folder; "" = not known yet
  int kept_step = 0;   // steps of the newest checkpoint in the queue
  sdk::ErrorKind file_error_kind = sdk::ErrorKind::internal;  // with file_error
  std::string file_error;                                     // a checkpoint or PNG the queue refused
};

}  // namespace ftdr::host::queue
