// ftdr/sdk/queue.hpp: queue plugins keep a server's jobs durably and hand them, one lease at a time,
// to the processes that run them (ABI 1.3; the runner registry 1.4).
//
// Two sides use one queue. The server (`ftdr serve`) enqueues requests, lists and cancels jobs, and
// watches their events. Runners (the server's own, or `ftdr worker --config` processes on this or
// other machines) claim a job under a lease, report its states and steps, renew the lease while they
// work, and complete it. A runner that dies or falls silent stops renewing; once its lease expires
// another runner claims the job and resumes it from its newest checkpoint (a shared folder, or blobs
// kept in the queue). Exactly once: complete() with a lease that is no longer the job's newest is
// refused (returns false) and changes nothing, so a late result from a presumed-dead runner is
// dropped.
//
//   std::uint64_t id = queue.enqueue(request_json, Priority::normal, now_ms);   // durable on return
//   std::optional<Lease> lease = queue.claim("host-a/4711", 1000);             // waits up to 1 s
//   queue.report(*lease, QueueEvent{lease->job.id, QueueEventKind::state, "encoding"});
//   if (queue.renew(*lease) == LeaseState::cancel_requested) { /* stop at the next step */ }
//   bool counted = queue.complete(*lease, "completed", result_json, now_ms);
//   queue.announce(RunnerInfo{"gpu-a", "box-a", 4711, "running", id}, now_ms);   // 1.4: runner list
//
// States are strings: "queued", the host's running states ("initializing", "encoding", "diffusion",
// "decoding", "retry_pending", ...: stored as reported), and the final "completed", "failed",
// "cancelled". Requests and results are opaque JSON text to the queue. Times are wall-clock
// milliseconds since the Unix epoch (they cross machines).
//
// Order: claim() hands out the job with the most urgent effective priority, first submitted first
// inside a level. Plugins age like the `priority` scheduler: with an `aging_ms` > 0, a job that has
// waited k * aging_ms counts k levels more urgent (never above urgent).
//
// Threads: every method may be called from any thread, concurrently; a plugin synchronises itself.
// Observers are called on a thread of the plugin's, one event at a time, in the order each job's
// events happened; an observer must not call back into the queue from on_event (post the work).
// Errors: sdk::Error; a queue that cannot reach its store (a lost connection it could not restore
// within its retry budget) throws kind internal with a message naming the store.
//
// Runners (ABI 1.4, optional): each runner announces itself (announce) when it starts, claims,
// finishes a job and with its renewals; runners() lists them for GET /v1/workers and `ftdr workers`.
// A runner silent for more than 3 lease durations is listed "lost" (unless its last word was
// "stopped"); one silent for more than 10 is dropped. A runner that announces a name already listed with
// another pid or started_ms is that runner restarted: its restarts count grows by one. The host calls both
// only on plugins built for
// >= 1.4 (kAbiMinorQueueRunners); a plugin without a registry keeps the default bodies.
//
// Host notes (comments only, no layout change): a queue plugin's PluginContext::state_dir is the
// host's [runtime] state_dir itself (not <state_dir>/plugins): what it keeps is the server's jobs.
// The host's runners renew each lease about once a second (hosts/ftdr/queue/queue_runner.hpp), so
// a lease must last several seconds. report() takes state and progress events only; the finished
// and cancel events come from complete() and cancel().
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ftdr/sdk/plugin.hpp"
#include "ftdr/sdk/scheduler.hpp"

namespace ftdr::sdk {

// One job as the queue keeps it. Layout frozen for ABI major 1 (copied by both sides, in vectors).
struct QueuedJob {
  std::uint64_t id = 0;  // > 0, chosen by enqueue(), never reused by this queue
  std::string request;   // as given to enqueue()
  Priority priority = Priority::normal;
  std::string state = "queued";
  std::int64_t created_ms = 0;
  std::int64_t finished_ms = 0;   // 0 = not finished
  std::string result;             // as given to complete(); "" before
  std::string job_dir;            // as given to set_job_dir(); "" = none yet
  std::string worker;             // the holder of its newest lease; "" = none
  std::uint32_t claims = 0;       // leases handed out so far
  bool cancel_requested = false;  // cancel() reached it while it was leased
  bool finished() const { return finished_ms != 0; }
};

// A claim on one job. token identifies this claim: it grows with every claim of the job, and only
// the job's newest token may report, renew or complete.
struct Lease {
  std::uint64_t token = 0;
  std::string worker;  // as given to claim()
  QueuedJob job;       // the job as it was claimed (its state, job_dir and claims included)
};

enum class LeaseState {
  held,              // renewed; carry on
  cancel_requested,  // renewed, but a client cancelled the job: stop it and complete "cancelled"
  lost,              // expired and claimed again, or the job is gone: stop, report nothing more
};

enum class QueueEventKind {
  state,     // `state` is the job's new state (running states and "queued" after a release)
  progress,  // `step` of `total` denoising steps done
  finished,  // `state` is final, `detail` the result JSON
  cancel,    // a client asked to cancel the job (observed by whoever runs it)
};

struct QueueEvent {
  std::uint64_t job_id = 0;
  QueueEventKind kind = QueueEventKind::state;
  std::string state;
  int step = 0, total = 0;
  std::string detail;  // JSON; finished: the result; state: free-form extras ("" = none)
};

class FTDR_SDK_INTERFACE QueueObserver {
 public:
  virtual ~QueueObserver() = default;
  virtual void on_event(const QueueEvent& event) = 0;
};

// Jobs waiting per priority, for /metrics (queue depth and lag).
struct QueueDepth {
  std::uint64_t waiting[4] = {};   // by Priority (urgent, high, normal, low)
  std::int64_t oldest_ms[4] = {};  // created_ms of the oldest waiting job per priority; 0 = none
};

// One runner as it announced itself. Layout frozen for ABI major 1 from 1.4 (copied, in vectors).
struct RunnerInfo {
  std::string name;               // unique per runner on this queue ([queue] runner_name)
  std::string host;               // the machine's hostname
  std::int64_t pid = 0;           // the runner's process
  std::string state = "idle";     // "idle", "running", "stopping", "stopped"; runners() adds "lost"
  std::uint64_t job = 0;          // the job it runs (one of them with several slots); 0 = none
  std::uint64_t jobs_done = 0;    // jobs it was done with (ended, gave back)
  std::int64_t started_ms = 0;    // when this process started running jobs
  std::int64_t last_seen_ms = 0;  // set by the queue: the now_ms of its newest announce()
  std::uint32_t restarts = 0;     // set by the queue: announcements under this name with a new pid
};

class FTDR_SDK_INTERFACE JobQueue : public Plugin {
 public:
  // ---- the server's side

  // Stores a new job ("queued"); durable when it returns (a crash after it keeps the job).
  virtual std::uint64_t enqueue(const std::string& request, Priority priority, std::int64_t now_ms) = 0;
  // Deletes a job that was never acknowledged to its client (its enqueue() succeeded, the reply did
  // not). Unknown ids are ignored.
  virtual void remove(std::uint64_t id) = 0;
  virtual std::optional<QueuedJob> job(std::uint64_t id) const = 0;
  // Every job the queue holds, oldest first.
  virtual std::vector<QueuedJob> jobs() const = 0;
  // A queued job ends "cancelled" at once with `result` (and a finished event); a leased one gets
  // cancel_requested and a cancel event, and its runner completes it with its own result. False
  // for an unknown or finished job.
  virtual bool cancel(std::uint64_t id, const std::string& result, std::int64_t now_ms) = 0;
  // Deletes the oldest finished jobs (and their blobs) beyond `keep`; returns their ids, oldest first.
  virtual std::vector<std::uint64_t> forget_finished(std::size_t keep) = 0;
  virtual QueueDepth depth() const = 0;
  // Events of every job, from every process using this queue. Held until the queue is destroyed.
  virtual void watch(std::shared_ptr<QueueObserver> observer) = 0;

  // ---- the runner's side

  // The next job (see Order above) under a new lease, waiting up to wait_ms for one; nothing when
  // none came. `worker` names the runner ("host/pid"), shown in listings. A job whose lease expired
  // (its runner stopped renewing) is claimable again, with its state, job_dir and blobs as left.
  virtual std::optional<Lease> claim(const std::string& worker, std::int64_t wait_ms) = 0;
  // Extends the lease by the plugin's lease duration.
  virtual LeaseState renew(const Lease& lease) = 0;
  // Records a state or progress event of the leased job and tells the observers. Ignored (false)
  // when the lease is no longer the job's newest.
  virtual bool report(const Lease& lease, const QueueEvent& event) = 0;
  // Where the job keeps its checkpoints (a path the next runner can read: shared or local folder).
  virtual bool set_job_dir(const Lease& lease, const std::string& dir) = 0;
  // Ends the job with a final state and its result JSON. False, and nothing changes, when the lease
  // is not the job's newest (expired and claimed again, or the job was removed).
  virtual bool complete(const Lease& lease, const std::string& state, const std::string& result,
                        std::int64_t now_ms) = 0;
  // Gives the job back, "queued" again with its job_dir and blobs (a runner stopping for a restart).
  virtual bool release(const Lease& lease) = 0;

  // ---- blobs: checkpoints and images for runners that share no folder with the server

  // Stores bytes under (job, name), replacing any. Throws sdk::Error(invalid_request) beyond the
  // plugin's size cap, naming it. A plugin without blob storage throws sdk::Error(internal).
  virtual void put_blob(std::uint64_t job_id, const std::string& name, const std::string& bytes) = 0;
  virtual std::optional<std::string> get_blob(std::uint64_t job_id, const std::string& name) const = 0;
  virtual std::vector<std::string> blob_names(std::uint64_t job_id) const = 0;

  // ---- runners (ABI 1.4; optional, see Runners above)

  // Records `runner` as seen at now_ms (its last_seen_ms and restarts are the queue's to set).
  virtual void announce(const RunnerInfo& runner, std::int64_t now_ms) {
    (void)runner;
    (void)now_ms;
  }
  // Every runner seen within 10 lease durations of now_ms, by name; state "lost" for those silent
  // for more than 3 that did not say "stopped". Empty for a plugin without a registry.
  virtual std::vector<RunnerInfo> runners(std::int64_t now_ms) const {
    (void)now_ms;
    return {};
  }
};

template <>
struct plugin_interface<PluginKind::queue> {
  using type = JobQueue;
};

}  // namespace ftdr::sdk
