// The native API's routes (see api_routes.hpp).
#include "api_routes.hpp"

#include <fstream>
#include <iterator>

#include "api_error.hpp"
#include "api_request.hpp"
#include "job_json.hpp"
#include "metrics.hpp"
#include "openapi.hpp"
#include "status_page.hpp"

namespace ftdr::host::serve {

namespace fw = ftdr::framework;
using fw::HttpRequest;
using fw::HttpResponse;
using nlohmann::json;

namespace {

std::vector<std::string> split_path(const std::string& path) {
  std::vector<std::string> parts;
  std::size_t start = 1;
  while (start <= path.size()) {
    const auto slash = std::min(path.find('/', start), path.size());
    parts.push_back(path.substr(start, slash - start));
    start = slash + 1;
  }
  return parts;
}

// A job id or an image index in a path: digits only; nothing otherwise.
std::optional<std::int64_t> number(const std::string& text) {
  if (text.empty() || text.size() > 18 || text.find_first_not_of("0123456789") != std::string::npos)
    return std::nullopt;
  return std::stoll(text);
}

// A query parameter that must be a whole number in [min, max].
std::int64_t query_number(const HttpRequest& r, const std::string& key, std::int64_t fallback,
                          std::int64_t min, std::int64_t max) {
  auto it = r.query.find(key);
  if (it == r.query.end()) return fallback;
  auto n = number(it->second);
  if (!n || *n < min || *n > max)
    throw ApiError(400, "invalid_request",
                   "query parameter '" + key + "': expected an integer in [" + std::to_string(min) + ", " +
                       std::to_string(max) + "], got '" + it->second + "'",
                   key);
  return *n;
}

HttpResponse method_not_allowed(const std::string& allow) {
  HttpResponse r = HttpResponse::error(405, "method_not_allowed", "this path takes " + allow);
  r.headers.emplace_back("Allow", allow);
  return r;
}

// True when `file` is inside `folder` (after resolving "..", links): images never escape it.
bool inside(const std::filesystem::path& file, const std::filesystem::path& folder) {
  std::error_code ec;
  const auto f = std::filesystem::weakly_canonical(file, ec).string();
  const auto d = std::filesystem::weakly_canonical(folder, ec).string();
  return !ec && f.size() > d.size() && f.compare(0, d.size(), d) == 0 && f[d.size()] == '/';
}

}  // namespace

ApiRoutes::ApiRoutes(JobService& jobs, sdk::GenerationRequest defaults, std::filesystem::path output_dir)
    : jobs_(jobs), defaults_(std::move(defaults)), output_dir_(std::move(output_dir)) {}

void ApiRoutes::set_model(sdk::ModelInfo info, std::vector<std::string> samplers, json plugins) {
  std::lock_guard<std::mutex> lock(model_mutex_);
  info_ = std::move(info);
  samplers_ = std::move(samplers);
  plugins_ = std::move(plugins);
  model_set_ = true;
}

bool ApiRoutes::model_known(sdk::ModelInfo& info, std::vector<std::string>& samplers, json& plugins) const {
  std::lock_guard<std::mutex> lock(model_mutex_);
  info = info_;
  samplers = samplers_;
  plugins = plugins_;
  return model_set_;
}

void ApiRoutes::set_workers(std::function<nlohmann::json()> list, std::function<std::string()> metrics) {
  workers_list_ = std::move(list);
  workers_metrics_ = std::move(metrics);
}

HttpResponse ApiRoutes::handle(const HttpRequest& request) {
  try {
    return route(request);
  } catch (const ApiError& e) {
    return e.response();
  }
}

HttpResponse ApiRoutes::route(const HttpRequest& r) {
  const auto parts = split_path(r.path);
  const bool get = r.method == "GET";
  if (r.path == "/healthz")
    return get ? HttpResponse::json(200, {{"status", "serving"}}) : method_not_allowed("GET");
  if (r.path == "/readyz") {
    if (!get) return method_not_allowed("GET");
    return jobs_.ready() ? HttpResponse::json(200, {{"status", "ready"}})
                         : HttpResponse::json(503, {{"status", "not ready"}});
  }
  if (r.path == "/")
    return get ? HttpResponse::text(200, status_page_html(), "text/html; charset=utf-8")
               : method_not_allowed("GET");
  if (r.path == "/openapi.json")
    return get ? HttpResponse::text(200, openapi_document(), "application/json") : method_not_allowed("GET");
  if (r.path == "/metrics")
    return get ? HttpResponse::text(200,
                                    metrics_text(jobs_.counts(), jobs_.ready()) +
                                        (workers_metrics_ ? workers_metrics_() : std::string()),
                                    "text/plain; version=0.0.4")
               : method_not_allowed("GET");
  if (r.path == "/v1/workers")
    return get ? HttpResponse::json(200,
                                    {{"workers", workers_list_ ? workers_list_() : nlohmann::json::array()},
                                     {"in_process", !workers_list_},
                                     {"runners", runners_ ? runners_() : nlohmann::json::array()}})
               : method_not_allowed("GET");
  if (parts.size() == 2 && parts[0] == "v1" &&
      (parts[1] == "models" || parts[1] == "samplers" || parts[1] == "plugins"))
    return get ? model_route(parts[1]) : method_not_allowed("GET");
  if (parts.size() >= 2 && parts[0] == "v1" && parts[1] == "jobs") return job_routes(r, parts);
  return HttpResponse::error(404, "not_found",
                             "no route " + r.method + " " + r.path + " (see /openapi.json)");
}

HttpResponse ApiRoutes::job_routes(const HttpRequest& r, const std::vector<std::string>& parts) {
  if (parts.size() == 2) {
    if (r.method == "POST") return submit(r);
    if (r.method == "GET") return list(r);
    return method_not_allowed("GET, POST");
  }
  const auto id = number(parts[2]);
  if (!id) return HttpResponse::error(404, "not_found", "no job '" + parts[2] + "'");
  auto status = jobs_.describe(*id);
  if (!status) return HttpResponse::error(404, "not_found", "no job " + parts[2]);
  if (parts.size() == 3) {
    if (r.method == "GET") return HttpResponse::json(200, *status);
    if (r.method != "DELETE") return method_not_allowed("GET, DELETE");
    if (!jobs_.cancel(*id))
      return HttpResponse::error(409, "already_finished", "job " + parts[2] + " already finished");
    return HttpResponse::json(202, *jobs_.describe(*id));
  }
  if (parts.size() == 4 && parts[3] == "events") {
    if (r.method != "GET") return method_not_allowed("GET");
    HttpResponse res;
    res.content_type = "text/event-stream";
    res.stream = jobs_.subscribe(*id);
    return res;
  }
  if (parts.size() == 5 && parts[3] == "images")
    return r.method == "GET" ? image(*id, parts[4]) : method_not_allowed("GET");
  return HttpResponse::error(404, "not_found", "no route " + r.method + " " + r.path);
}

HttpResponse ApiRoutes::submit(const HttpRequest& r) {
  sdk::ModelInfo info;
  std::vector<std::string> samplers;
  json plugins;
  if (!model_known(info, samplers, plugins) || !jobs_.ready())
    throw ApiError(503, "not_ready", "the model is still loading; try again when /readyz answers 200")
        .header("Retry-After", "1");
  const JobRequest job = parse_job_request(r.body, defaults_, info, samplers);
  const std::int64_t id = jobs_.submit(job.request, job.priority);
  HttpResponse res = HttpResponse::json(202, {{"id", id}, {"status_url", status_url(id)}});
  res.headers.emplace_back("Location", status_url(id));
  return res;
}

HttpResponse ApiRoutes::list(const HttpRequest& r) {
  std::string state;
  if (auto it = r.query.find("state"); it != r.query.end()) {
    state = it->second;
    static const char* kStates[] = {"queued",   "initializing",  "encoding_prompt", "diffusion_running",
                                    "decoding", "retry_pending", "completed",       "failed",
                                    "cancelled"};
    bool known = false;
    for (const char* s : kStates) known = known || state == s;
    if (!known)
      throw ApiError(
          400, "invalid_request",
          "query parameter 'state': expected queued, initializing, encoding_prompt, diffusion_running, "
          "decoding, retry_pending, completed, failed or cancelled, got '" +
              state + "'",
          "state");
  }
  const auto limit = query_number(r, "limit", 100, 1, 1000);
  const auto after = query_number(r, "after", 0, 0, INT64_MAX);
  return HttpResponse::json(200, jobs_.list(state, static_cast<std::size_t>(limit), after));
}

HttpResponse ApiRoutes::image(std::int64_t id, const std::string& index) {
  const auto i = number(index);
  const auto file = i ? jobs_.image(id, static_cast<std::size_t>(*i)) : std::nullopt;
  if (!file)
    return HttpResponse::error(404, "not_found", "job " + std::to_string(id) + " has no image " + index);
  std::ifstream in(*file, std::ios::binary);
  if (!inside(*file, output_dir_) || !in)
    return HttpResponse::error(
        410, "gone",
        "image " + index + " of job " + std::to_string(id) + " is no longer in the output folder");
  return HttpResponse::text(200, std::string(std::istreambuf_iterator<char>(in), {}), "image/png");
}

HttpResponse ApiRoutes::model_route(const std::string& what) {
  sdk::ModelInfo info;
  std::vector<std::string> samplers;
  json plugins;
  if (!model_known(info, samplers, plugins))
    return HttpResponse::error(503, "not_ready", "the model is still loading");
  if (what == "plugins") return HttpResponse::json(200, {{"plugins", plugins}});
  if (what == "samplers") {
    samplers.insert(samplers.begin(), "default");
    return HttpResponse::json(200, {{"samplers", samplers}, {"default_is", info.default_sampler}});
  }
  return HttpResponse::json(200, {{"models",
                                   {{{"name", info.name},
                                     {"family", info.family},
                                     {"default_sampler", info.default_sampler},
                                     {"prediction_type", info.prediction_type},
                                     {"vae_scale_factor", info.vae_scale_factor},
                                     {"default_size", info.default_size},
                                     {"dtype", std::string(sdk::to_string(info.dtype))}}}}});
}

}  // namespace ftdr::host::serve
