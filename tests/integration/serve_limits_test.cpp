// `ftdr serve`'s limits on the real binary: cancel (queued and running), a full queue (429), the
// bearer token (401), the body limit (413), and a half-sent request that times out.
#include <gtest/gtest.h>

#include "integration/serve_process.hpp"

namespace ftdr::test {
namespace {

using nlohmann::json;

std::string path_of(std::int64_t id) { return "/v1/jobs/" + std::to_string(id); }

// Long jobs (50 steps of 100 ms) stay running until the test cancels them.
ServeOptions slow_jobs() {
  ServeOptions o;
  o.step_ms = 100;
  o.steps = 50;
  return o;
}

TEST(ServeCancel, QueuedJobEndsAtOnceRunningJobAtAStepBoundary) {
  ServeProcess server(fresh_dir("serve_cancel"), slow_jobs());
  const std::int64_t running = submit_job(server.port(), {{"prompt", "long"}});
  ASSERT_EQ(wait_for_state(server.port(), running, "diffusion_running")["state"], "diffusion_running");
  const std::int64_t queued = submit_job(server.port(), {{"prompt", "waits"}});
  EXPECT_EQ(job_status(server.port(), queued)["queue_position"], 0);

  const HttpReply cancel_queued = http(server.port(), "DELETE", path_of(queued));
  EXPECT_EQ(cancel_queued.status, 202);
  EXPECT_EQ(json_of(cancel_queued)["state"], "cancelled");  // it never ran: cancelled at once
  EXPECT_EQ(json_of(http(server.port(), "DELETE", path_of(queued)))["error"]["kind"], "already_finished");

  EXPECT_EQ(http(server.port(), "DELETE", path_of(running)).status, 202);
  const json stopped = wait_for_state(server.port(), running, "cancelled");
  EXPECT_EQ(stopped["state"], "cancelled");
  EXPECT_EQ(stopped["error"]["kind"], "cancelled");
  EXPECT_LT(stopped["step"].get<int>(), 50);
  EXPECT_TRUE(stopped["images"].empty());
  EXPECT_EQ(http(server.port(), "DELETE", "/v1/jobs/424242").status, 404);
  EXPECT_EQ(server.stop(), 0);
}

TEST(ServeQueue, FullQueueIs429WithRetryAfter) {
  ServeOptions o = slow_jobs();
  o.queue_capacity = 1;
  ServeProcess server(fresh_dir("serve_queue"), o);
  const std::int64_t running = submit_job(server.port(), {{"prompt", "runs"}});
  wait_for_state(server.port(), running, "diffusion_running");
  const std::int64_t waiting = submit_job(server.port(), {{"prompt", "waits"}});
  const HttpReply full = http(server.port(), "POST", "/v1/jobs", R"({"prompt": "one too many"})");
  EXPECT_EQ(full.status, 429);
  EXPECT_EQ(full.headers.at("retry-after"), "1");
  EXPECT_EQ(json_of(full)["error"]["kind"], "queue_full");
  // A refused job leaves no trace: the list holds the two accepted ones only.
  EXPECT_EQ(json_of(http(server.port(), "GET", "/v1/jobs"))["jobs"].size(), 2u);
  http(server.port(), "DELETE", path_of(waiting));
  http(server.port(), "DELETE", path_of(running));
  wait_for_state(server.port(), running, "cancelled");
  EXPECT_EQ(server.stop(), 0);
}

TEST(ServeToken, EveryRouteButHealthzNeedsTheToken) {
  ServeOptions o;
  o.token = "s3cret-token";
  ServeProcess server(fresh_dir("serve_token"), o);
  const std::vector<std::string> good{"Authorization: Bearer s3cret-token"};
  EXPECT_EQ(http(server.port(), "GET", "/healthz").status, 200);
  for (const char* path : {"/readyz", "/v1/jobs", "/v1/models", "/metrics", "/openapi.json", "/v1/jobs/1"}) {
    const HttpReply refused = http(server.port(), "GET", path);
    EXPECT_EQ(refused.status, 401) << path;
    EXPECT_EQ(refused.headers.at("www-authenticate"), "Bearer") << path;
    EXPECT_EQ(json_of(refused)["error"]["kind"], "unauthorized") << path;
    EXPECT_EQ(http(server.port(), "GET", path, "", {"Authorization: Bearer wrong"}).status, 401) << path;
  }
  EXPECT_EQ(http(server.port(), "POST", "/v1/jobs", R"({"prompt": "x"})").status, 401);
  EXPECT_EQ(http(server.port(), "GET", "/v1/jobs", "", good).status, 200);
  const HttpReply accepted = http(server.port(), "POST", "/v1/jobs", R"({"prompt": "x"})", good);
  EXPECT_EQ(accepted.status, 202);
  EXPECT_EQ(server.stop(), 0);
}

TEST(ServeLimits, BodyOverTheLimitIs413AndHalfSentRequestsTimeOut) {
  ServeOptions o;
  o.server_extra = "max_body_bytes = 1024\nrequest_timeout_s = 1\n";
  ServeProcess server(fresh_dir("serve_limits"), o);
  const std::string big = R"({"prompt": ")" + std::string(5000, 'a') + R"("})";
  const HttpReply too_big = http(server.port(), "POST", "/v1/jobs", big);
  EXPECT_EQ(too_big.status, 413);
  EXPECT_EQ(json_of(too_big)["error"]["kind"], "payload_too_large");
  EXPECT_NE(json_of(too_big)["error"]["message"].get<std::string>().find("limit of 1024 bytes"),
            std::string::npos);

  // Headers never finished, and a body shorter than its Content-Length: the server closes both
  // connections (read_all() returns at the close) without an answer.
  Connection headers_only(server.port());
  headers_only.send("GET /v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\n");
  EXPECT_EQ(headers_only.read_all(), "");
  Connection short_body(server.port());
  short_body.send("POST /v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n{\"prompt\"");
  EXPECT_EQ(short_body.read_all(), "");
  // Malformed HTTP gets a 400; the server still serves afterwards.
  Connection garbage(server.port());
  garbage.send("NOT HTTP AT ALL\r\n\r\n");
  EXPECT_EQ(parse_reply(garbage.read_all()).status, 400);
  EXPECT_EQ(submit_job(server.port(), {{"prompt", "still serving"}}) > 0, true);
  EXPECT_EQ(server.stop(), 0);
}

}  // namespace
}  // namespace ftdr::test
