// hosts/ftdr/serve/a1111_routes.hpp: the AUTOMATIC1111-compatible subset of `ftdr serve` under
// /sdapi/v1/ (docs/serve.md, "AUTOMATIC1111 API"), so existing A1111 clients work unchanged.
//
//   A1111Routes a1111(jobs, cfg.host().generate);
//   HttpServer server(config, [&](const HttpRequest& r) {
//     return A1111Routes::owns(r.path) ? a1111.handle(r) : routes.handle(r); });
//   a1111.set_model(info, samplers);
//
// txt2img is synchronous as in A1111: the handler submits its n_iter jobs to the JobService (the
// same queue and journal as POST /v1/jobs) one after another and answers once their images exist.
// It holds one server thread meanwhile; /progress and /interrupt answer from the others.
#pragma once
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "a1111_request.hpp"
#include "ftdr/framework/server/http_message.hpp"
#include "ftdr/sdk/backend.hpp"
#include "job_service.hpp"

namespace ftdr::host::serve {

class A1111Routes {
 public:
  A1111Routes(JobService& jobs, sdk::GenerationRequest defaults);

  static bool owns(const std::string& path) { return path.rfind("/sdapi/", 0) == 0; }
  void set_model(sdk::ModelInfo info, std::vector<std::string> samplers);
  framework::HttpResponse handle(const framework::HttpRequest& request);

 private:
  framework::HttpResponse route(const framework::HttpRequest& request);
  framework::HttpResponse txt2img(const framework::HttpRequest& request);
  framework::HttpResponse progress();
  framework::HttpResponse interrupt();
  framework::HttpResponse samplers();
  framework::HttpResponse sd_models();
  framework::HttpResponse options(const framework::HttpRequest& request);
  // Runs one job to its end; appends its images (base64 PNG) and infotexts; counts it in job_no_
  // and `counted` once it ended. False: interrupted.
  bool run_job(const sdk::GenerationRequest& request, std::vector<std::string>& images,
               std::vector<std::string>& infotexts, int& counted);
  nlohmann::json info_json(const A1111Txt2Img& t, std::uint64_t seed,
                           const std::vector<std::string>& infotexts) const;
  sdk::ModelInfo model(std::vector<std::string>* samplers) const;  // throws A1111Error(503) before load

  JobService& jobs_;
  const sdk::GenerationRequest defaults_;
  mutable std::mutex mutex_;
  bool model_set_ = false;
  sdk::ModelInfo info_;
  std::vector<std::string> samplers_;
  // The txt2img calls in progress, for /progress and /interrupt.
  std::vector<std::int64_t> running_;  // job ids of the current jobs
  int job_count_ = 0, job_no_ = 0;     // A1111's state: jobs of the current calls, and done
  bool interrupted_ = false;
  std::chrono::steady_clock::time_point started_;
};

}  // namespace ftdr::host::serve
