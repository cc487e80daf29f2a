// A completed job's PNGs from the queue into the server's output_dir (see image_fetcher.hpp).
#include "image_fetcher.hpp"

#include "ftdr/framework/logging.hpp"
#include "queue/job_files.hpp"

namespace ftdr::host::serve {

namespace fs = std::filesystem;
namespace fw = ftdr::framework;
using nlohmann::json;

json local_result(const json& result, const fs::path& output_dir, std::int64_t id) {
  if (!result.contains("image_blobs") || !result.contains("images")) return result;
  json local = result;
  const fs::path folder = output_dir / ("job-" + std::to_string(id));
  for (auto& image : local["images"])
    image = (folder / fs::path(image.get<std::string>()).filename()).string();
  return local;
}

bool fetch_missing_image(const sdk::JobQueue& queue, std::int64_t id, const json& result, std::size_t index) {
  const json blobs = result.value("image_blobs", json::array());
  const json images = result.value("images", json::array());
  if (index >= blobs.size() || index >= images.size()) return false;
  const fs::path file = images[index].get<std::string>();
  std::error_code ec;
  if (fs::exists(file, ec)) return true;
  try {
    if (queue::fetch_image(queue, static_cast<std::uint64_t>(id), blobs[index].get<std::string>(), file))
      return true;
    fw::host_logger()->error("serve: job {}: image {} is not in the queue (blob {})", id, index,
                             blobs[index].get<std::string>());
  } catch (const std::exception& e) {
    fw::host_logger()->error("serve: job {}: image {} cannot be fetched from the queue: {}", id, index,
                             e.what());
  }
  return false;
}

ImageFetcher::ImageFetcher(std::shared_ptr<sdk::JobQueue> queue, fs::path output_dir, Done done)
    : queue_(std::move(queue)), output_dir_(std::move(output_dir)), done_(std::move(done)) {
  thread_ = std::thread([this] { loop(); });
}

ImageFetcher::~ImageFetcher() { stop(); }

void ImageFetcher::post(std::int64_t id, const std::string& state, const std::string& result) {
  std::lock_guard<std::mutex> lock(mutex_);
  tasks_.push_back({id, state, result});
  posted_.notify_all();
}

void ImageFetcher::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_) return;
    stopping_ = true;
  }
  posted_.notify_all();
  thread_.join();
}

void ImageFetcher::loop() {
  for (;;) {
    Task task;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      posted_.wait(lock, [this] { return stopping_ || !tasks_.empty(); });
      if (stopping_) return;
      task = std::move(tasks_.front());
      tasks_.pop_front();
    }
    fetch(task);
  }
}

void ImageFetcher::fetch(const Task& task) {
  json result;
  try {
    result = local_result(json::parse(task.result), output_dir_, task.id);
  } catch (const std::exception&) {  // recorded as it is: apply_finished notes an unreadable result
    return done_(task.id, task.state, task.result);
  }
  for (std::size_t i = 0; i < result.value("images", json::array()).size(); ++i)
    fetch_missing_image(*queue_, task.id, result, i);
  done_(task.id, task.state, result.dump());
}

}  // namespace ftdr::host::serve
