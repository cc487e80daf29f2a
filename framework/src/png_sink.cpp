// The PNG ImageSink (see png_sink.hpp).
#include "ftdr/framework/png_sink.hpp"

#include <cstdio>
#include <filesystem>
#include <mutex>

#include "ftdr/framework/png_writer.hpp"
#include "ftdr/framework/request_json.hpp"

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

}  // namespace

ImageSink make_png_sink(const sdk::ModelInfo& model) {
  auto numbering = std::make_shared<std::mutex>();
  return [model, numbering](const Job&, const sdk::GenerationParams& asked,
                                 const std::vector<sdk::Image>& images) {
    sdk::GenerationParams params = asked;
    if (params.request.sampler == "default" && !model.default_sampler.empty())
      params.request.sampler = model.default_sampler;
    const sdk::GenerationRequest& r = asked.request;  // the request as asked, for the JSON
    const fs::path dir = r.output_dir.empty() ? fs::path("outputs") : fs::path(r.output_dir);
    const std::string request = request_json(r).dump();
    std::vector<std::string> written;
    std::lock_guard<std::mutex> lock(*numbering);  // numbers are unique within the process
    int number = r.output_prefix.empty() ? next_number(dir) : 0;
    for (std::size_t i = 0; i < images.size(); ++i) {
      const int index = params.first_image + static_cast<int>(i);
      std::string name;
      if (!r.output_prefix.empty()) {
        name = r.output_prefix + "-" + std::to_string(index) + ".png";
      } else {
        char buf[16];
        std::snprintf(buf, sizeof buf, "%05d", number++);
        name = std::string(buf) + "-" + std::to_string(r.seed + static_cast<std::uint64_t>(index)) + ".png";
      }
      const fs::path file = dir / name;
      write_png(file, images[i], {{"parameters", a1111_parameters(params, model.name, index)}, {"ftdr_request", request}});
      written.push_back(file.string());
    }
    return written;
  };
}

}  // namespace ftdr::framework
