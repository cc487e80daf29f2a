// hosts/ftdr/serve/a1111_routes.hpp: the AUTOMATIC1111-compatible subset of `ftdr serve` under
// /sdapi/v1/ (docs/serve.md, "AUTOMATIC1111 API"), so existing A1111 clients work unchanged.
//
//   A1111Routes a1111(jobs, cfg.host().generate);
//   HttpServer server(config, [&](const HttpRequest& r) {
//     return A1111Routes::owns(r.path) ? a1111.handle(r) : routes.handle(r); });
//   a1111.set_model(info, samplers);
//
// txt2img answers as in A1111 once its images exist: its n_iter jobs go to the JobService (the same
// queue and journal as POST /v1/jobs) one after another, each submitted when the one before ended.
// The call holds no server thread meanwhile (HttpResponse::later): the steps between its jobs run
// on this object's one continuation thread.
#pragma once
#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "a1111_request.hpp"
#include "continuations.hpp"
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
  // One txt2img call in progress.
  struct Txt2ImgCall {
    A1111Txt2Img t;
    std::shared_ptr<framework::DeferredResponse> answer = std::make_shared<framework::DeferredResponse>();
    std::vector<std::string> images, infotexts;  // base64 PNGs and their infotexts, so far
    int submitted = 0;                           // jobs submitted
    int counted = 0;                             // jobs ended, counted in job_no_
  };
  void submit_next(const std::shared_ptr<Txt2ImgCall>& call);
  void follow_job(const std::shared_ptr<Txt2ImgCall>& call, std::int64_t id);
  void wait_for_close(const std::shared_ptr<framework::EventStream>& stream, std::function<void()> closed);
  void job_ended(const std::shared_ptr<Txt2ImgCall>& call, std::int64_t id);
  bool collect_images(std::int64_t id, std::vector<std::string>& images, std::vector<std::string>& infotexts);
  bool interrupted() const;
  void end_call(const Txt2ImgCall& call);
  void finish_call(const std::shared_ptr<Txt2ImgCall>& call);
  void fail_call(const std::shared_ptr<Txt2ImgCall>& call, std::exception_ptr error);
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
  // Last: joined (its queued steps run) before the rest goes.
  Continuations continuations_;
};

}  // namespace ftdr::host::serve
