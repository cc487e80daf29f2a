// hosts/ftdr/serve/api_routes.hpp: the native JSON API of `ftdr serve`: one handler for the
// HttpServer that maps method and path to the JobService (docs/serve.md lists every route).
//
//   ApiRoutes routes(jobs, cfg.host().generate, output_dir);
//   HttpServer server(config, [&](const HttpRequest& r) { return routes.handle(r); });
//   ... load the model ...
//   routes.set_model(info, samplers, plugins_json);   // /v1/models etc. answer from here on
#pragma once
#include <filesystem>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ftdr/framework/server/http_message.hpp"
#include "ftdr/sdk/backend.hpp"
#include "job_service.hpp"

namespace ftdr::host::serve {

class ApiRoutes {
 public:
  ApiRoutes(JobService& jobs, sdk::GenerationRequest defaults, std::filesystem::path output_dir);

  void set_model(sdk::ModelInfo info, std::vector<std::string> samplers, nlohmann::json plugins);
  // With worker processes ([workers] count > 0): GET /v1/workers answers list() (without: an empty
  // list), and /metrics ends with metrics(). Call before the server starts.
  void set_workers(std::function<nlohmann::json()> list, std::function<std::string()> metrics);
  // GET /v1/workers also answers runners(): the queue's runners, on this machine or others
  // (queue/runner_list.hpp; without: an empty list). Call before the server starts.
  void set_runners(std::function<nlohmann::json()> runners) { runners_ = std::move(runners); }
  framework::HttpResponse handle(const framework::HttpRequest& request);

 private:
  framework::HttpResponse route(const framework::HttpRequest& request);
  framework::HttpResponse job_routes(const framework::HttpRequest& request,
                                     const std::vector<std::string>& parts);
  framework::HttpResponse submit(const framework::HttpRequest& request);
  framework::HttpResponse list(const framework::HttpRequest& request);
  framework::HttpResponse image(std::int64_t id, const std::string& index);
  framework::HttpResponse model_route(const std::string& what);
  bool model_known(sdk::ModelInfo& info, std::vector<std::string>& samplers, nlohmann::json& plugins) const;

  JobService& jobs_;
  const sdk::GenerationRequest defaults_;
  const std::filesystem::path output_dir_;
  mutable std::mutex model_mutex_;
  bool model_set_ = false;
  sdk::ModelInfo info_;
  std::vector<std::string> samplers_;
  nlohmann::json plugins_;
  std::function<nlohmann::json()> workers_list_;
  std::function<std::string()> workers_metrics_;
  std::function<nlohmann::json()> runners_;
};

}  // namespace ftdr::host::serve
