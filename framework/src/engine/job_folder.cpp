#include "job_folder.hpp"

#include <filesystem>

#include <spdlog/spdlog.h>

namespace ftdr::framework::detail {
namespace fs = std::filesystem;

std::string claim_job_folder(Job& job, const std::string& state_dir) {
  JobWork& w = job.work();
  if (!w.job_dir().empty() || w.job_dir_refused() || state_dir.empty()) return w.job_dir();
  const fs::path dir = fs::path(state_dir) / "jobs" / std::to_string(job.id());
  std::error_code ec;
  fs::create_directories(dir.parent_path(), ec);
  // create_directory is mkdir(2): false when the folder already existed, so a folder FTDR did not
  // make for this job is never taken over (and never removed at the end).
  const bool created = !ec && fs::create_directory(dir, ec) && !ec;
  if (!created) {
    w.refuse_job_dir();
    spdlog::warn("job {}: checkpoint folder {} {}; the job runs without checkpoints", job.id(), dir.string(),
                 ec ? "cannot be created (" + ec.message() + ")"
                    : std::string("already exists and is not this job's"));
    return {};
  }
  w.claim_job_dir(dir.string());
  return w.job_dir();
}

void release_job_folder(JobWork& w) {
  if (w.job_dir().empty()) return;
  std::error_code ec;
  for (const std::string& file : w.checkpoints()) fs::remove(file, ec);
  fs::remove(w.job_dir(), ec);  // fails, leaving it, when something else is in it
  if (ec) spdlog::debug("checkpoint folder {} left in place: {}", w.job_dir(), ec.message());
  w.forget_job_dir();
}

}  // namespace ftdr::framework::detail
