// hosts/ftdr/queue/queue_worker.hpp: `ftdr worker --config FILE` without --connect: a standalone
// runner for a queue shared between machines ([queue] plugin other than `local`; docs/queue.md).
//
// Loads the plugins and the model in this process, then runs the runner loop (queue_runner.hpp)
// against the configured queue as "<hostname>/<pid>", [runtime] workers jobs at a time, writing
// images under [runtime] output_dir. SIGINT/SIGTERM: stops claiming, then drains or cancels per
// [runtime] shutdown (a cancelled job goes back to the queue for another runner), exit 0. The
// `local` queue is refused (exit 2): its journal belongs to the one `ftdr serve` that opened it.
// An unreachable store exits 1 at once, or after [queue] connect_retry_s seconds of retrying.
#pragma once
#include "ftdr/framework/config/config.hpp"

namespace ftdr::host::queue {

int run_queue_worker(const framework::Config& cfg);

}  // namespace ftdr::host::queue
