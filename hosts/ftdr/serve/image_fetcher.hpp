// hosts/ftdr/serve/image_fetcher.hpp: [queue] files = "queue" on the server. A completed job's PNGs
// are blobs of the queue (queue/job_files.hpp), written by whichever machine ran it; this thread
// copies them into the server's own <output_dir>/job-<id>/ before the job shows as completed, so
// GET /v1/jobs/{id}/images/{i} and the A1111 routes serve a local file as they always have. A thread
// of its own: the queue's observer thread may not call into the queue (sdk/queue.hpp).
//
//   ImageFetcher fetcher(queue, output_dir, [&](id, state, result) { /* the job is finished now */ });
//   fetcher.post(id, "completed", result_text);   // from the queue's finished event
//   fetcher.stop();                                // before what `done` uses goes away
#pragma once
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "ftdr/sdk/queue.hpp"

namespace ftdr::host::serve {

// The result as this server serves it: "images" become <output_dir>/job-<id>/<the runner's file
// name>. Results without "image_blobs" (a shared folder) are returned as they are.
nlohmann::json local_result(const nlohmann::json& result, const std::filesystem::path& output_dir,
                            std::int64_t id);

// Fetches image `index` of a local_result() into its file when that is missing (an earlier fetch
// failed, or this server started after the job ended). False when it cannot be had (logged).
bool fetch_missing_image(const sdk::JobQueue& queue, std::int64_t id, const nlohmann::json& result,
                         std::size_t index);

class ImageFetcher {
 public:
  // After the fetch (failed ones are logged; fetch_missing_image tries again): the result to record,
  // local_result() of the runner's.
  using Done = std::function<void(std::int64_t id, const std::string& state, const std::string& result)>;
  ImageFetcher(std::shared_ptr<sdk::JobQueue> queue, std::filesystem::path output_dir, Done done);
  ~ImageFetcher();  // stop()
  ImageFetcher(const ImageFetcher&) = delete;
  ImageFetcher& operator=(const ImageFetcher&) = delete;

  void post(std::int64_t id, const std::string& state, const std::string& result);
  // Ends the thread after the fetch in progress; the jobs still waiting stay unfinished here.
  void stop();

 private:
  struct Task {
    std::int64_t id;
    std::string state, result;
  };
  void loop();
  void fetch(const Task& task);

  std::shared_ptr<sdk::JobQueue> queue_;
  std::filesystem::path output_dir_;
  Done done_;
  std::mutex mutex_;
  std::condition_variable posted_;
  std::deque<Task> tasks_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace ftdr::host::serve
