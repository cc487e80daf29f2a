#include "job_folder.hpp"

#include <algorithm>
#include <filesystem>
#include <optional>
#include <utility>
#include <vector>

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

namespace {

// N from "latents_i<first>_step<N>.ckpt" (the name StepWatch::save gives) when first == 0; -1 for a
// checkpoint of a later sub-batch; nothing for any other file.
std::optional<int> first_sub_batch_steps(const std::string& name) {
  const std::string head = "latents_i", tail = ".ckpt";
  if (name.rfind(head, 0) != 0 || name.size() <= head.size() + tail.size() ||
      name.compare(name.size() - tail.size(), tail.size(), tail) != 0)
    return std::nullopt;
  const std::string first = "latents_i0_step";
  if (name.rfind(first, 0) != 0) return -1;
  const std::string digits = name.substr(first.size(), name.size() - tail.size() - first.size());
  if (digits.empty() || digits.size() > 9 || digits.find_first_not_of("0123456789") != std::string::npos)
    return -1;
  return std::stoi(digits);
}

}  // namespace

void adopt_job_folder(JobWork& w, const std::string& dir) {
  std::error_code ec;
  if (dir.empty() || !fs::is_directory(dir, ec)) return;
  std::vector<std::pair<int, std::string>> newest_last;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const auto steps = first_sub_batch_steps(it->path().filename().string());
    if (!steps) continue;
    std::error_code removed;  // not `ec`: that one ends the loop
    if (*steps < 0)
      fs::remove(it->path(), removed);
    else
      newest_last.emplace_back(*steps, it->path().string());
  }
  std::sort(newest_last.begin(), newest_last.end());
  w.claim_job_dir(dir);
  for (const auto& [steps, path] : newest_last) w.record_checkpoint(path, steps);  // removes the older one
  if (!newest_last.empty())
    spdlog::info("resuming from checkpoint {} (step {})", newest_last.back().second,
                 newest_last.back().first);
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
