// The jobs side of `ftdr worker` (see worker_session.hpp).
#include "worker_session.hpp"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "ftdr/framework/jobs/request_json.hpp"
#include "ftdr/framework/logging.hpp"
#include "ftdr/framework/workers/worker_protocol.hpp"

namespace ftdr::host::workers {

namespace fw = ftdr::framework;
using nlohmann::json;

namespace {

sdk::Priority priority_named(const std::string& name) {
  for (auto p : {sdk::Priority::urgent, sdk::Priority::high, sdk::Priority::normal, sdk::Priority::low})
    if (sdk::to_string(p) == name) return p;
  throw fw::FrameError("message \"run\": unknown priority '" + name + "'");
}

// The newest latents checkpoint in the folder (the engine names them latents_i<first>_step<N>.ckpt).
std::pair<int, std::string> newest_checkpoint(const std::string& dir) {
  std::pair<int, std::string> newest{-1, ""};
  std::error_code ec;
  for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    const auto at = name.rfind("_step");
    if (name.rfind("latents_i", 0) != 0 || at == std::string::npos || it->path().extension() != ".ckpt")
      continue;
    const int step = std::atoi(name.c_str() + at + 5);
    if (step > newest.first) newest = {step, it->path().string()};
  }
  return newest;
}

}  // namespace

WorkerSession::WorkerSession(fw::FrameChannel& channel, std::shared_ptr<fw::JobManager> manager,
                             std::shared_ptr<StickyWatch> sticky)
    : channel_(channel), manager_(std::move(manager)), sticky_(std::move(sticky)) {}

fw::JobCallbacks WorkerSession::callbacks_for(std::uint64_t job, const std::string& job_dir) {
  fw::JobCallbacks cb;
  cb.on_state = [this, job](fw::JobId, fw::ExecutionState, fw::ExecutionState to) {
    if (!fw::is_terminal(to))
      channel_.send({{"type", "state"}, {"job", job}, {"state", std::string(fw::to_string(to))}});
  };
  cb.on_progress = [this, job, job_dir](fw::JobId, int step, int total) {
    channel_.send({{"type", "progress"}, {"job", job}, {"step", step}, {"total", total}});
    report_checkpoint(job, job_dir);
  };
  cb.on_complete = [this, job](fw::JobId, const fw::JobResult& r) { finished(job, r); };
  cb.on_error = cb.on_complete;
  return cb;
}

void WorkerSession::report_checkpoint(std::uint64_t job, const std::string& job_dir) {
  const auto [step, path] = newest_checkpoint(job_dir);
  if (path.empty()) return;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (last_checkpoint_[job] == path) return;
    last_checkpoint_[job] = path;
  }
  channel_.send({{"type", "checkpoint"}, {"job", job}, {"step", step}, {"path", path}});
}

void WorkerSession::run(const json& message) {
  const std::uint64_t job = fw::id_field(message, "job");
  const std::string job_dir = fw::string_field(message, "job_dir");
  sdk::GenerationRequest request;
  try {
    request = fw::request_from_json(message.at("request"));
  } catch (const std::exception& e) {
    throw fw::FrameError(std::string("message \"run\": field \"request\": ") + e.what());
  }
  const sdk::Priority priority = priority_named(fw::string_field(message, "priority"));
  fw::host_logger()->info("worker: job {} ({})", job, job_dir);
  std::lock_guard<std::mutex> lock(mutex_);
  try {
    local_[job] = manager_->submit(request, priority, callbacks_for(job, job_dir), job_dir);
  } catch (const sdk::Error& e) {  // refused before it ran (a request this model cannot take)
    fw::JobResult r;
    r.state = fw::ExecutionState::failed;
    r.error_kind = e.kind();
    r.error_message = e.what();
    channel_.send({{"type", "result"}, {"job", job}, {"result", fw::job_result_json(r)}});
  }
}

void WorkerSession::cancel(const json& message) {
  const std::uint64_t job = fw::id_field(message, "job");
  fw::JobId local = 0;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (auto it = local_.find(job); it != local_.end()) local = it->second;
  }
  if (local != 0) manager_->cancel(local, message.value("for_restart", false));
}

void WorkerSession::finished(std::uint64_t job, const fw::JobResult& result) {
  if (const auto failure = sticky_->sticky()) {
    fw::host_logger()->error(
        "worker: sticky device error in job {}: exiting so that the device can be used again", job);
    channel_.send({{"type", "error"},
                   {"job", job},
                   {"sticky", true},
                   {"phase", std::string(sdk::to_string(failure->phase))},
                   {"step", failure->step},
                   {"message", failure->message}});
    channel_.close();
    std::_Exit(kExitStickyDevice);  // no destructor may call into the lost device
  }
  channel_.send({{"type", "result"}, {"job", job}, {"result", fw::job_result_json(result)}});
  std::lock_guard<std::mutex> lock(mutex_);
  local_.erase(job);
  last_checkpoint_.erase(job);
}

}  // namespace ftdr::host::workers
