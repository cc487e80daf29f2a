// `ftdr serve`'s native API on the real binary (test_backend fixture): submit, poll, download,
// events, refusals with the field at fault, the model routes, /openapi.json and /metrics.
#include <gtest/gtest.h>

#include "integration/serve_process.hpp"

namespace ftdr::test {
namespace {

using nlohmann::json;

class ServeApi : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = new ServeProcess(fresh_dir("serve_api")); }
  static void TearDownTestSuite() {
    EXPECT_EQ(server_->stop(), 0) << server_->err();
    delete server_;
  }
  static int port() { return server_->port(); }
  static ServeProcess* server_;
};
ServeProcess* ServeApi::server_ = nullptr;

TEST_F(ServeApi, HealthAndReadiness) {
  const HttpReply health = http(port(), "GET", "/healthz");
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(json_of(health)["status"], "serving");
  EXPECT_EQ(http(port(), "GET", "/readyz").status, 200);
  EXPECT_EQ(http(port(), "POST", "/healthz").status, 405);
  EXPECT_EQ(http(port(), "GET", "/nowhere").status, 404);
}

TEST_F(ServeApi, SubmitPollDownload) {
  const HttpReply accepted =
      http(port(), "POST", "/v1/jobs", R"({"prompt": "a red circle", "batch": 2, "width": 24})");
  ASSERT_EQ(accepted.status, 202) << accepted.body;
  const json body = json_of(accepted);
  const std::int64_t id = body["id"];
  EXPECT_EQ(body["status_url"], "/v1/jobs/" + std::to_string(id));
  const json done = wait_for_state(port(), id, "completed");
  ASSERT_EQ(done["state"], "completed") << done.dump();
  EXPECT_EQ(done["attempts"], 1);
  EXPECT_EQ(done["step"], 3);
  EXPECT_EQ(done["total_steps"], 3);
  EXPECT_EQ(done["request"]["prompt"], "a red circle");
  EXPECT_FALSE(done["request"].contains("output_dir"));  // server paths are not shown
  ASSERT_EQ(done["images"].size(), 2u);
  for (int i = 0; i < 2; ++i) {
    const std::string url = "/v1/jobs/" + std::to_string(id) + "/images/" + std::to_string(i);
    EXPECT_EQ(done["images"][i], url);
    const HttpReply png = http(port(), "GET", url);
    ASSERT_EQ(png.status, 200);
    EXPECT_EQ(png.headers.at("content-type"), "image/png");
    EXPECT_EQ(png_size(png.body), std::make_pair(24, 8));
  }
  EXPECT_EQ(http(port(), "GET", "/v1/jobs/" + std::to_string(id) + "/images/2").status, 404);
  // The files are in the job's own folder under output_dir.
  EXPECT_TRUE(
      std::filesystem::exists(server_->dir() / "out" / ("job-" + std::to_string(id)) / "image-0.png"));
}

TEST_F(ServeApi, EventsGiveEveryStateAndStepInOrder) {
  const std::int64_t id = submit_job(port(), {{"prompt", "events"}, {"steps", 4}});
  const HttpReply events = http(port(), "GET", "/v1/jobs/" + std::to_string(id) + "/events");
  ASSERT_EQ(events.status, 200);
  EXPECT_EQ(events.headers.at("content-type"), "text/event-stream");
  std::vector<std::string> seen;
  std::size_t at = 0;
  while ((at = events.body.find("event: ", at)) != std::string::npos) {
    const std::string name = events.body.substr(at + 7, events.body.find('\n', at) - at - 7);
    const auto data_at = events.body.find("data: ", at) + 6;
    const json data = json::parse(events.body.substr(data_at, events.body.find('\n', data_at) - data_at));
    seen.push_back(name == "state" ? data["state"].get<std::string>()
                                   : std::to_string(data["step"].get<int>()) + "/" +
                                         std::to_string(data["total"].get<int>()));
    at = data_at;
  }
  const std::vector<std::string> expected{
      "queued", "initializing", "encoding_prompt", "diffusion_running", "1/4", "2/4",
      "3/4",    "4/4",          "decoding",        "completed"};
  EXPECT_EQ(seen, expected) << events.body;
}

// Each refusal names its field (exactly) and says what was expected.
TEST_F(ServeApi, BadRequestsNameTheField) {
  struct Case {
    std::string body, field, message;
  };
  const std::vector<Case> cases{
      {R"({"prompt": "x", "stpes": 4})", "stpes", "unknown field 'stpes'"},
      {R"({"prompt": "x", "output_dir": "/etc"})", "output_dir", "unknown field 'output_dir'"},
      {R"({"prompt": "x", "steps": "4"})", "steps",
       "request field 'steps': expected an integer (got string)"},
      {R"({"prompt": "x", "seed": -1})", "seed", "request field 'seed': expected an unsigned integer"},
      {R"({"prompt": "x", "width": 20})", "width", "request field 'width': expected a multiple of 8"},
      {R"({"prompt": "x", "steps": 0})", "steps",
       "request field 'steps': expected an integer in [1, 1000], got 0"},
      {R"({"prompt": "x", "cfg_scale": 1e30})", "cfg_scale",
       "request field 'cfg_scale': expected a number in [0, 100]"},
      {R"({"prompt": "x", "sampler": "warp"})", "sampler",
       "request field 'sampler': expected one of default, pndm"},
      {R"({"prompt": "x", "priority": "asap"})", "priority", "request field 'priority': expected \"urgent\""},
      {R"({"steps": 4})", "prompt", "request field 'prompt': required"},
      {R"({"prompt": "x", "loras": {"name": "a"}})", "loras", "request field 'loras': expected an array"},
      {R"({"prompt": "x", "loras": [{"name": "../a"}]})", "loras[0].name",
       "request field 'loras[0].name': \"../a\" must be a file name in the LoRA folder"},
      {R"({"prompt": "x", "loras": [{"name": "a", "scale": true}]})", "loras[0].scale",
       "request field 'loras[0].scale': expected a number (got boolean)"},
      {R"({"prompt": "x\u0001"})", "prompt",
       "request field 'prompt': expected UTF-8 text without control characters"},
  };
  for (const auto& c : cases) {
    const HttpReply r = http(port(), "POST", "/v1/jobs", c.body);
    EXPECT_EQ(r.status, 400) << c.body;
    const json e = json_of(r)["error"];
    EXPECT_EQ(e["kind"], "invalid_request") << c.body;
    EXPECT_EQ(e["field"], c.field) << c.body;
    EXPECT_NE(e["message"].get<std::string>().find(c.message), std::string::npos) << c.body << " -> " << e;
  }
  // Not JSON (cut short, a number beyond double, bytes that are not UTF-8) or not an object.
  for (const std::string body : {"{\"prompt\": ", "[1, 2]", "\"prompt\"",
                                 "{\"prompt\": \"x\", \"steps\": 1e400}", "{\"prompt\": \"\xff\xfe\"}"}) {
    const HttpReply r = http(port(), "POST", "/v1/jobs", body);
    EXPECT_EQ(r.status, 400) << body;
    EXPECT_FALSE(json_of(r)["error"].contains("field")) << body;
  }
  EXPECT_EQ(json_of(http(port(), "GET", "/v1/jobs?limit=0"))["error"]["field"], "limit");
  EXPECT_EQ(json_of(http(port(), "GET", "/v1/jobs?state=done"))["error"]["field"], "state");
  EXPECT_EQ(http(port(), "GET", "/v1/jobs/999999").status, 404);
  EXPECT_EQ(http(port(), "GET", "/v1/jobs/abc").status, 404);
}

TEST_F(ServeApi, ListPagesByIdAndFiltersByState) {
  const std::int64_t a = submit_job(port(), {{"prompt", "a"}});
  const std::int64_t b = submit_job(port(), {{"prompt", "b"}});
  wait_for_state(port(), a, "completed");
  wait_for_state(port(), b, "completed");
  const json page = json_of(http(port(), "GET", "/v1/jobs?limit=1&after=" + std::to_string(a - 1)));
  ASSERT_EQ(page["jobs"].size(), 1u);
  EXPECT_EQ(page["jobs"][0]["id"], a);
  EXPECT_EQ(page["next_after"], a);
  const json next = json_of(http(port(), "GET", "/v1/jobs?limit=1&after=" + std::to_string(a)));
  EXPECT_EQ(next["jobs"][0]["id"], b);
  // Kept in a local: a range-for over a member of a temporary reads freed memory.
  const json completed = json_of(http(port(), "GET", "/v1/jobs?state=completed"));
  ASSERT_GE(completed["jobs"].size(), 2u);
  for (const auto& job : completed["jobs"]) EXPECT_EQ(job["state"], "completed");
}

TEST_F(ServeApi, ModelSamplersPluginsOpenApiMetrics) {
  const json models = json_of(http(port(), "GET", "/v1/models"));
  EXPECT_EQ(models["models"][0]["name"], "tiny");
  const json samplers = json_of(http(port(), "GET", "/v1/samplers"))["samplers"];
  EXPECT_EQ(samplers[0], "default");
  EXPECT_NE(std::find(samplers.begin(), samplers.end(), "dpmpp_2m"), samplers.end());
  const json plugins = json_of(http(port(), "GET", "/v1/plugins"))["plugins"];
  ASSERT_EQ(plugins.size(), 6u);
  EXPECT_EQ(plugins[0]["name"], "test_backend");
  EXPECT_EQ(plugins[1]["name"], "priority");
  EXPECT_EQ(plugins[5]["kind"], "queue");  // where the jobs wait ([queue] plugin)
  EXPECT_EQ(plugins[5]["name"], "local");

  const json api = json_of(http(port(), "GET", "/openapi.json"));
  EXPECT_EQ(api["openapi"].get<std::string>().substr(0, 2), "3.");
  for (const char* path :
       {"/healthz", "/readyz", "/metrics", "/v1/jobs", "/v1/jobs/{id}", "/v1/jobs/{id}/events",
        "/v1/jobs/{id}/images/{index}", "/v1/models", "/v1/samplers", "/v1/plugins"})
    EXPECT_TRUE(api["paths"].contains(path)) << path;

  const std::int64_t id = submit_job(port(), {{"prompt", "counted"}});
  wait_for_state(port(), id, "completed");
  const HttpReply metrics = http(port(), "GET", "/metrics");
  EXPECT_EQ(metrics.headers.at("content-type"), "text/plain; version=0.0.4");
  for (const char* line :
       {"ftdr_ready 1\n", "ftdr_jobs_queued 0\n", "ftdr_attempts_failed_total{kind=\"out_of_memory\"} 0\n"})
    EXPECT_NE(metrics.body.find(line), std::string::npos) << line << metrics.body;
  EXPECT_NE(metrics.body.find("ftdr_jobs_finished_total{state=\"completed\"} "), std::string::npos);
  EXPECT_NE(metrics.body.find("ftdr_jobs_queued_by_priority{priority=\"urgent\"} 0\n"), std::string::npos);
  // The diffusion histogram: as many observations in +Inf as counted, at least the job above.
  const auto value_of = [&](const std::string& series) {
    const auto at = metrics.body.find(series + " ");
    return at == std::string::npos ? -1L : std::stol(metrics.body.substr(at + series.size() + 1));
  };
  const long count = value_of("ftdr_phase_duration_seconds_count{phase=\"diffusion\"}");
  EXPECT_GE(count, 1) << metrics.body;
  EXPECT_EQ(value_of("ftdr_phase_duration_seconds_bucket{phase=\"diffusion\",le=\"+Inf\"}"), count);
}

// The OpenAPI document against real answers: a schema's required fields are in the answer, and
// every field of the answer is one the schema declares.
void expect_schema(const json& api, const std::string& name, const json& value) {
  const json& schema = api["components"]["schemas"][name];
  ASSERT_TRUE(schema.is_object()) << name;
  for (const auto& key : schema.value("required", json::array()))
    EXPECT_TRUE(value.contains(key.get<std::string>())) << name << " answer lacks " << key << ": " << value;
  for (auto it = value.begin(); it != value.end(); ++it)
    EXPECT_TRUE(schema["properties"].contains(it.key())) << name << " does not declare '" << it.key() << "'";
}

bool documented(const json& api, const std::string& path, const std::string& method, int status) {
  return api["paths"][path][method]["responses"].contains(std::to_string(status));
}

TEST_F(ServeApi, OpenApiDescribesTheRealAnswers) {
  const json api = json_of(http(port(), "GET", "/openapi.json"));
  const HttpReply accepted =
      http(port(), "POST", "/v1/jobs", R"({"prompt": "described", "priority": "high"})");
  EXPECT_TRUE(documented(api, "/v1/jobs", "post", accepted.status));
  expect_schema(api, "Accepted", json_of(accepted));
  const std::int64_t id = json_of(accepted)["id"];
  const json queued_or_running = job_status(port(), id);
  expect_schema(api, "Job", queued_or_running);
  const json done = wait_for_state(port(), id, "completed");
  expect_schema(api, "Job", done);
  for (const auto& attempt : done["attempt_history"]) expect_schema(api, "Attempt", attempt);
  const std::vector<std::string> states = api["components"]["schemas"]["State"]["enum"];
  EXPECT_NE(std::find(states.begin(), states.end(), done["state"]), states.end());
  expect_schema(api, "JobList", json_of(http(port(), "GET", "/v1/jobs")));
  expect_schema(api, "JobRequest", done["request"]);  // the request as a job shows it can be sent again

  const HttpReply bad = http(port(), "POST", "/v1/jobs", R"({"prompt": 1})");
  EXPECT_TRUE(documented(api, "/v1/jobs", "post", bad.status));
  expect_schema(api, "Error", json_of(bad));
  const json& error_schema = api["components"]["schemas"]["Error"]["properties"]["error"];
  const json bad_error = json_of(bad)["error"];
  for (auto it = bad_error.begin(); it != bad_error.end(); ++it)
    EXPECT_TRUE(error_schema["properties"].contains(it.key())) << it.key();
  const HttpReply missing = http(port(), "GET", "/v1/jobs/987654");
  EXPECT_TRUE(documented(api, "/v1/jobs/{id}", "get", missing.status));
  EXPECT_TRUE(documented(api, "/v1/jobs/{id}", "delete",
                         http(port(), "DELETE", "/v1/jobs/" + std::to_string(id)).status));
  EXPECT_TRUE(documented(api, "/v1/jobs/{id}/images/{index}", "get",
                         http(port(), "GET", "/v1/jobs/" + std::to_string(id) + "/images/0").status));
}

}  // namespace
}  // namespace ftdr::test
