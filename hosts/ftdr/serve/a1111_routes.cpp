// The AUTOMATIC1111-compatible routes (see a1111_routes.hpp).
#include "a1111_routes.hpp"

#include <algorithm>
#include <fstream>
#include <iterator>
#include <random>

#include "a1111_base64.hpp"
#include "api_error.hpp"
#include "ftdr/framework/output/png_writer.hpp"
#include "ftdr/framework/version.hpp"
#include "ftdr/sdk/error.hpp"
#include "job_json.hpp"

namespace ftdr::host::serve {

namespace fw = ftdr::framework;
using fw::HttpRequest;
using fw::HttpResponse;
using nlohmann::json;

namespace {

// A1111 draws a random seed as int(random.randrange(4294967294)).
std::uint64_t random_seed() {
  static std::mutex mutex;
  static std::mt19937_64 engine{std::random_device{}()};
  std::lock_guard<std::mutex> lock(mutex);
  return std::uniform_int_distribution<std::uint64_t>(0, 4294967293ULL)(engine);
}

// The A1111 `parameters` text FTDR wrote into the PNG (png_sink.cpp, a1111_parameters.cpp).
std::string parameters_text(const std::filesystem::path& file) {
  for (const auto& [key, value] : fw::read_png(file).text)
    if (key == "parameters") return value;
  return "";
}

HttpResponse detail(int status, const std::string& message) {
  return HttpResponse::json(status, {{"detail", message}});
}

// A refusal as A1111 words it: {"detail": ...}, with the status and headers of the JobService's
// ApiError (429 full queue, 503 shutting down) where it is one.
HttpResponse a1111_error_response(std::exception_ptr error) {
  try {
    std::rethrow_exception(error);
  } catch (const A1111Error& e) {
    return e.response();
  } catch (const ApiError& e) {
    HttpResponse r = e.response();
    r.body = json{{"detail", e.what()}}.dump();
    return r;
  }
}

}  // namespace

A1111Routes::A1111Routes(JobService& jobs, sdk::GenerationRequest defaults)
    : jobs_(jobs), defaults_(std::move(defaults)) {}

void A1111Routes::set_model(sdk::ModelInfo info, std::vector<std::string> samplers) {
  std::lock_guard<std::mutex> lock(mutex_);
  info_ = std::move(info);
  samplers_ = std::move(samplers);
  model_set_ = true;
}

sdk::ModelInfo A1111Routes::model(std::vector<std::string>* samplers) const {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!model_set_) throw A1111Error(503, "the model is still loading; try again when /readyz answers 200");
  if (samplers) *samplers = samplers_;
  return info_;
}

HttpResponse A1111Routes::handle(const HttpRequest& request) {
  try {
    return route(request);
  } catch (...) {
    return a1111_error_response(std::current_exception());
  }
}

HttpResponse A1111Routes::route(const HttpRequest& r) {
  const std::string prefix = "/sdapi/v1/";
  if (r.path.rfind(prefix, 0) != 0) return detail(404, "Not Found");
  const std::string path = r.path.substr(prefix.size());
  const bool get = r.method == "GET", post = r.method == "POST";
  if (path == "txt2img") return post ? txt2img(r) : detail(405, "Method Not Allowed");
  if (path == "progress") return get ? progress() : detail(405, "Method Not Allowed");
  if (path == "interrupt") return post ? interrupt() : detail(405, "Method Not Allowed");
  if (path == "samplers") return get ? samplers() : detail(405, "Method Not Allowed");
  if (path == "sd-models") return get ? sd_models() : detail(405, "Method Not Allowed");
  if (path == "options") return get || post ? options(r) : detail(405, "Method Not Allowed");
  return detail(404, "Not Found");
}

// The call's answer waits for its jobs (HttpResponse::later); no server thread waits with it.
HttpResponse A1111Routes::txt2img(const HttpRequest& r) {
  std::vector<std::string> samplers;
  const sdk::ModelInfo info = model(&samplers);
  auto call = std::make_shared<Txt2ImgCall>();
  call->t = parse_a1111_txt2img(r.body, defaults_, info, samplers);
  if (call->t.random_seed) call->t.request.seed = random_seed();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (job_count_ == job_no_) {  // no call in progress: A1111's state starts again
      job_count_ = job_no_ = 0;
      interrupted_ = false;
      started_ = std::chrono::steady_clock::now();
    }
    job_count_ += call->t.n_iter;
  }
  try {
    submit_next(call);
  } catch (...) {  // the first job was refused at once (full queue, shutting down): nothing runs
    end_call(*call);
    throw;
  }
  return HttpResponse::later(call->answer);
}

// Job number call->submitted, or the answer when the call is done (or interrupted).
void A1111Routes::submit_next(const std::shared_ptr<Txt2ImgCall>& call) {
  const A1111Txt2Img& t = call->t;
  if (call->submitted == t.n_iter || interrupted()) return finish_call(call);
  sdk::GenerationRequest job = t.request;
  job.seed = t.request.seed +
             static_cast<std::uint64_t>(call->submitted) * static_cast<std::uint64_t>(t.request.batch);
  ++call->submitted;
  const std::int64_t id = jobs_.submit(job, sdk::Priority::normal);  // throws its refusal
  follow_job(call, id);
}

// Waits (on no thread) for the job's event stream to close: the job ended, or the server shuts down.
void A1111Routes::follow_job(const std::shared_ptr<Txt2ImgCall>& call, std::int64_t id) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    running_.push_back(id);
  }
  if (interrupted()) jobs_.cancel(id);  // /interrupt came while it was being journaled
  auto stream = jobs_.subscribe(id);
  if (!stream) return continuations_.post([this, call, id] { job_ended(call, id); });
  wait_for_close(stream,
                 [this, call, id] { continuations_.post([this, call, id] { job_ended(call, id); }); });
}

// The waker runs on whichever thread closed the stream, which may hold the JobService's lock: the
// work goes to continuations_.
void A1111Routes::wait_for_close(const std::shared_ptr<fw::EventStream>& stream,
                                 std::function<void()> closed) {
  std::string ignored;
  if (stream->take(ignored)) return closed();
  stream->on_ready([this, stream, closed] { wait_for_close(stream, closed); });
}

void A1111Routes::job_ended(const std::shared_ptr<Txt2ImgCall>& call, std::int64_t id) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    running_.erase(std::find(running_.begin(), running_.end(), id));
    ++job_no_;
    ++call->counted;
  }
  try {
    if (!collect_images(id, call->images, call->infotexts)) return finish_call(call);  // interrupted
    submit_next(call);
  } catch (...) {
    fail_call(call, std::current_exception());
  }
}

// The job's images and infotexts; false when it was cancelled (/interrupt). Throws A1111Error.
bool A1111Routes::collect_images(std::int64_t id, std::vector<std::string>& images,
                                 std::vector<std::string>& infotexts) {
  const auto now = jobs_.describe(id);
  const json status = now ? *now : json::object();
  const std::string state = status.value("state", "forgotten");  // a job forgotten by [server] keep_finished
  if (state == "cancelled") return false;
  if (state == "forgotten")
    throw A1111Error(500,
                     "job " + std::to_string(id) + " is no longer in the journal ([server] keep_finished)");
  if (state == "failed")
    throw A1111Error(
        500, "job " + std::to_string(id) + " failed: " + status.value("error", json::object()).dump());
  if (state != "completed")  // its stream closed without an end: the server shuts down
    throw A1111Error(503,
                     "the server is shutting down; job " + std::to_string(id) + " runs at its next start");
  for (std::size_t i = 0;; ++i) {
    const auto file = jobs_.image(id, i);
    if (!file) break;
    std::ifstream in(*file, std::ios::binary);
    if (!in)
      throw A1111Error(500, "image " + std::to_string(i) + " of job " + std::to_string(id) + " is gone");
    images.push_back(base64_encode(std::string(std::istreambuf_iterator<char>(in), {})));
    infotexts.push_back(parameters_text(*file));
  }
  return true;
}

bool A1111Routes::interrupted() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return interrupted_;
}

// The jobs an interruption or an error left unsubmitted leave A1111's job count.
void A1111Routes::end_call(const Txt2ImgCall& call) {
  std::lock_guard<std::mutex> lock(mutex_);
  job_count_ -= call.t.n_iter - call.counted;
}

void A1111Routes::finish_call(const std::shared_ptr<Txt2ImgCall>& call) {
  end_call(*call);
  const A1111Txt2Img& t = call->t;
  call->answer->complete(
      HttpResponse::json(200, {{"images", call->images},
                               {"parameters", t.parameters},
                               {"info", info_json(t, t.request.seed, call->infotexts).dump()}}));
}

void A1111Routes::fail_call(const std::shared_ptr<Txt2ImgCall>& call, std::exception_ptr error) {
  end_call(*call);
  call->answer->complete(a1111_error_response(error));
}

json A1111Routes::info_json(const A1111Txt2Img& t, std::uint64_t seed,
                            const std::vector<std::string>& infotexts) const {
  const sdk::GenerationRequest& r = t.request;
  json all_seeds = json::array(), all_prompts = json::array(), all_negative = json::array();
  for (std::size_t i = 0; i < infotexts.size(); ++i) {
    all_seeds.push_back(seed + i);
    all_prompts.push_back(r.prompt);
    all_negative.push_back(r.negative_prompt);
  }
  sdk::ModelInfo info = model(nullptr);
  return {{"prompt", r.prompt},
          {"all_prompts", all_prompts},
          {"negative_prompt", r.negative_prompt},
          {"all_negative_prompts", all_negative},
          {"seed", seed},
          {"all_seeds", all_seeds},
          {"subseed", seed},
          {"all_subseeds", all_seeds},
          {"subseed_strength", 0},
          {"width", r.width},
          {"height", r.height},
          {"sampler_name", t.sampler_name},
          {"cfg_scale", r.cfg_scale},
          {"steps", r.steps},
          {"batch_size", r.batch},
          {"n_iter", t.n_iter},
          {"restore_faces", false},
          {"sd_model_name", info.name},
          {"sd_model_hash", nullptr},
          {"clip_skip", std::max(1, r.clip_skip)},
          {"eta", r.eta},
          {"index_of_first_image", 0},
          {"infotexts", infotexts},
          {"styles", json::array()},
          {"extra_generation_params", json::object()},
          {"is_using_inpainting_conditioning", false},
          {"version", std::string("ftdr ") + fw::ftdr_version()},
          {"ignored", t.ignored}};
}

HttpResponse A1111Routes::progress() {
  std::lock_guard<std::mutex> lock(mutex_);
  int step = 0, steps = 0;
  if (!running_.empty())
    if (auto s = jobs_.describe(running_.front())) {
      step = s->value("step", 0);
      steps = s->value("total_steps", 0);
    }
  const bool active = job_no_ < job_count_;
  double progress = 0;
  if (active) progress = (job_no_ + (steps > 0 ? static_cast<double>(step) / steps : 0.0)) / job_count_;
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  const double eta = progress > 0 ? elapsed / progress - elapsed : 0.0;
  return HttpResponse::json(200,
                            {{"progress", progress},
                             {"eta_relative", eta},
                             {"state",
                              {{"skipped", false},
                               {"interrupted", interrupted_},
                               {"stopping_generation", false},
                               {"job", running_.empty() ? "" : "job " + std::to_string(running_.front())},
                               {"job_count", active ? job_count_ : 0},
                               {"job_timestamp", "0"},
                               {"job_no", active ? job_no_ : 0},
                               {"sampling_step", step},
                               {"sampling_steps", steps}}},
                             {"current_image", nullptr},
                             {"textinfo", nullptr}});
}

HttpResponse A1111Routes::interrupt() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (job_count_ > job_no_) interrupted_ = true;  // the calls in progress submit no more jobs
  for (std::int64_t id : running_) jobs_.cancel(id);
  return HttpResponse::json(200, nullptr);
}

HttpResponse A1111Routes::samplers() {
  std::vector<std::string> names;
  model(&names);
  json out = json::array();
  for (const auto& s : a1111_samplers(names)) {
    json options = json::object();
    for (const auto& [k, v] : s.options) options[k] = v;
    out.push_back({{"name", s.name}, {"aliases", s.aliases}, {"options", options}});
  }
  return HttpResponse::json(200, out);
}

HttpResponse A1111Routes::sd_models() {
  const sdk::ModelInfo info = model(nullptr);
  return HttpResponse::json(200, json::array({{{"title", info.name},
                                               {"model_name", info.name},
                                               {"hash", nullptr},
                                               {"sha256", nullptr},
                                               {"filename", info.name},
                                               {"config", nullptr}}}));
}

HttpResponse A1111Routes::options(const HttpRequest& r) {
  const sdk::ModelInfo info = model(nullptr);
  if (r.method == "GET")
    return HttpResponse::json(200, {{"sd_model_checkpoint", info.name},
                                    {"sd_checkpoint_hash", nullptr},
                                    {"samples_format", "png"},
                                    {"CLIP_stop_at_last_layers", std::max(1, defaults_.clip_skip)},
                                    {"eta_ddim", 0.0}});
  json body;
  try {
    body = json::parse(r.body);
  } catch (const json::exception& e) {
    throw A1111Error(422, json::array({{{"loc", {"body", 0}},
                                        {"msg", std::string("request body: not valid JSON: ") + e.what()},
                                        {"type", "value_error.jsondecode"}}}));
  }
  if (!body.is_object())
    throw A1111Error(
        422, json::array(
                 {{{"loc", {"body"}}, {"msg", "value is not a valid dict"}, {"type", "type_error.dict"}}}));
  // One model per server: naming another is refused as A1111 refuses an unknown checkpoint;
  // every other option is accepted and has no effect.
  if (auto it = body.find("sd_model_checkpoint"); it != body.end() && *it != json(info.name))
    throw A1111Error(404, "model " + it->dump() + " not found (this server has '" + info.name + "')");
  return HttpResponse::json(200, nullptr);
}

}  // namespace ftdr::host::serve
