// The PNG ImageSink (see png_sink.hpp).
#include "ftdr/framework/output/png_sink.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <mutex>

#include "ftdr/framework/jobs/request_json.hpp"
#include "ftdr/framework/output/png_writer.hpp"
#include "ftdr/sdk/error.hpp"

namespace ftdr::framework {
namespace {

namespace fs = std::filesystem;

// The next free A1111-style number: one more than the largest "<digits>-..." file in the folder.
int next_number(const fs::path& dir) {
  int next = 0;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    std::size_t digits = 0;
    while (digits < name.size() && name[digits] >= '0' && name[digits] <= '9') ++digits;
    if (digits == 0 || digits > 9 || digits >= name.size() || name[digits] != '-') continue;
    next = std::max(next, std::stoi(name.substr(0, digits)) + 1);
  }
  return next;
}

// The request as stored in the image: without output_dir, a path on the machine that wrote it
// (private, and it would make the same request written to another folder a different file).
std::string stored_request(const sdk::GenerationRequest& r) {
  nlohmann::json j = request_json(r);
  j.erase("output_dir");
  return j.dump();
}

[[noreturn]] void unusable(const fs::path& dir, const std::string& why) {
  throw sdk::Error(sdk::ErrorKind::invalid_request, "output folder '" + dir.string() + "': " + why);
}

// Creates and removes a file in `dir`; returns 0 or the errno. An unnamed O_TMPFILE where the
// file system has it (nothing to clean up, no name that could be a user's), else a named file
// created exclusively (never one that was there).
int create_probe(const fs::path& dir) {
  int fd = ::open(dir.c_str(), O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
  if (fd >= 0) {
    ::close(fd);
    return 0;
  }
  if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL) return errno;
  for (int n = 0; n < 100; ++n) {
    const fs::path probe = dir / (".ftdr-write-test." + std::to_string(::getpid()) + "-" + std::to_string(n));
    fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0) {
      ::close(fd);
      ::unlink(probe.c_str());
      return 0;
    }
    if (errno != EEXIST) return errno;
  }
  return EEXIST;
}

}  // namespace

fs::path output_folder(const sdk::GenerationRequest& request) {
  return request.output_dir.empty() ? fs::path("outputs") : fs::path(request.output_dir);
}

void check_output_folder(const fs::path& dir) {
  std::error_code ec;
  if (fs::exists(dir, ec) && !fs::is_directory(dir, ec)) unusable(dir, "exists and is not a folder");
  fs::create_directories(dir, ec);
  if (ec) unusable(dir, "cannot create it: " + ec.message());
  // Writable is what creating a file says (access(2) is wrong for root and read-only mounts).
  if (const int error = create_probe(dir))
    unusable(dir, std::string("cannot create a file in it: ") + std::strerror(error));
}

ImageSink make_png_sink(const sdk::ModelInfo& model) {
  auto numbering = std::make_shared<std::mutex>();
  return [model, numbering](const Job&, const sdk::GenerationParams& asked,
                            const std::vector<sdk::Image>& images) {
    sdk::GenerationParams params = asked;
    if (params.request.sampler == "default" && !model.default_sampler.empty())
      params.request.sampler = model.default_sampler;
    const sdk::GenerationRequest& r = asked.request;  // the request as asked, for the JSON
    const fs::path dir = output_folder(r);
    const std::string request = stored_request(r);
    std::vector<std::string> written;
    std::lock_guard<std::mutex> lock(*numbering);  // numbers in order within the process
    int number = r.output_prefix.empty() ? next_number(dir) : 0;
    for (std::size_t i = 0; i < images.size(); ++i) {
      const int index = params.first_image + static_cast<int>(i);
      const std::string seed = std::to_string(r.seed + static_cast<std::uint64_t>(index));
      int taken = 0;  // names tried before the one written
      auto name = [&](int attempt) {
        taken = attempt;
        if (!r.output_prefix.empty()) {
          const std::string base = r.output_prefix + "-" + std::to_string(index);
          return attempt == 0 ? base + ".png" : base + "-" + std::to_string(attempt) + ".png";
        }
        char buf[16];
        std::snprintf(buf, sizeof buf, "%05d", number + attempt);
        return std::string(buf) + "-" + seed + ".png";
      };
      const TextChunks text{{"parameters", a1111_parameters(params, model.name, index)},
                            {"ftdr_request", request}};
      written.push_back(write_new_png(dir, name, images[i], text).string());
      number += taken + 1;
    }
    return written;
  };
}

}  // namespace ftdr::framework
