// `ftdr serve` against a corpus of malformed requests, sent as raw bytes: bad JSON, bytes that are
// not UTF-8, wrong types, numbers beyond every range, a 10 MB body, bad headers, unknown routes and
// methods, and requests that are never finished. Each gets its exact status (and the error JSON the
// API promises: kind, and the field for a request field's fault) or, when it never ends, a closed
// connection; then the server still runs a valid job to completion. Slow clients hold no thread.
#include <gtest/gtest.h>

#include "integration/serve_process.hpp"

namespace ftdr::test {
namespace {

using nlohmann::json;

struct Case {
  std::string name;
  std::string request;  // the raw bytes sent
  int status;           // 0: the server closes the connection without an answer
  std::string kind;     // the error's kind
  std::string field;    // the error's field; "" = none
};

std::string head(const std::string& method, const std::string& target, const std::string& headers = "") {
  return method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n" + headers;
}
std::string get(const std::string& target) { return head("GET", target) + "\r\n"; }
std::string post(const std::string& body) {
  return head("POST", "/v1/jobs", "Content-Length: " + std::to_string(body.size()) + "\r\n") + "\r\n" + body;
}
std::string field_value(const std::string& field, const std::string& value) {
  return post(R"({"prompt": "x", ")" + field + "\": " + value + "}");
}

std::vector<Case> corpus() {
  const std::string ten_mb(10 * 1024 * 1024, 'a');
  std::vector<Case> cases{
      // Not JSON, or not an object: 400 without a field.
      {"trailing comma", post(R"({"prompt": "x",})"), 400, "invalid_request", ""},
      {"empty body", post(""), 400, "invalid_request", ""},
      {"null", post("null"), 400, "invalid_request", ""},
      {"10000 nested arrays", post(std::string(10000, '[') + std::string(10000, ']')), 400, "invalid_request",
       ""},
      {"NUL inside a string", post(std::string("{\"prompt\": \"a\0b\"}", 17)), 400, "invalid_request", ""},
      {"lone UTF-8 continuation byte", post("{\"prompt\": \"\x80\"}"), 400, "invalid_request", ""},
      {"overlong UTF-8", post("{\"prompt\": \"\xc0\xaf\"}"), 400, "invalid_request", ""},
      {"lone UTF-16 surrogate escape", post(R"({"prompt": "\ud800"})"), 400, "invalid_request", ""},
      {"1e309 (beyond double)", field_value("steps", "1e309"), 400, "invalid_request", ""},
      // Wrong types and values out of range: 400 naming the field.
      {"prompt an array", post(R"({"prompt": ["x"]})"), 400, "invalid_request", "prompt"},
      {"prompt given twice, the last a number", post(R"({"prompt": "x", "prompt": 5})"), 400,
       "invalid_request", "prompt"},
      {"batch a boolean", field_value("batch", "true"), 400, "invalid_request", "batch"},
      {"steps a fraction", field_value("steps", "4.5"), 400, "invalid_request", "steps"},
      {"seed a string", field_value("seed", "\"7\""), 400, "invalid_request", "seed"},
      {"negative_prompt a number", field_value("negative_prompt", "5"), 400, "invalid_request",
       "negative_prompt"},
      {"priority a number", field_value("priority", "1"), 400, "invalid_request", "priority"},
      {"seed 2^64", field_value("seed", "18446744073709551616"), 400, "invalid_request", "seed"},
      {"steps 2^64", field_value("steps", "18446744073709551616"), 400, "invalid_request", "steps"},
      {"steps 2^63", field_value("steps", "9223372036854775808"), 400, "invalid_request", "steps"},
      {"batch 2^31", field_value("batch", "2147483648"), 400, "invalid_request", "batch"},
      {"width negative", field_value("width", "-8"), 400, "invalid_request", "width"},
      {"steps negative", field_value("steps", "-1"), 400, "invalid_request", "steps"},
      {"clip_skip negative", field_value("clip_skip", "-1"), 400, "invalid_request", "clip_skip"},
      {"cfg_scale -1e308", field_value("cfg_scale", "-1e308"), 400, "invalid_request", "cfg_scale"},
      {"eta 1e308", field_value("eta", "1e308"), 400, "invalid_request", "eta"},
      // Bodies over [server] max_body_bytes (1 MiB by default): 413, with or without a length.
      {"10 MB body", post(R"({"prompt": ")" + ten_mb + "\"}"), 413, "payload_too_large", ""},
      {"10 MB chunked body",
       head("POST", "/v1/jobs", "Transfer-Encoding: chunked\r\n") + "\r\n" + "a00000\r\n" + ten_mb +
           "\r\n0\r\n\r\n",
       413, "payload_too_large", ""},
      // Bad HTTP: 400 (431 for headers over 16 KiB).
      {"Content-Length not a number", head("POST", "/v1/jobs", "Content-Length: abc\r\n") + "\r\n{}", 400,
       "invalid_request", ""},
      {"two different Content-Lengths",
       head("POST", "/v1/jobs", "Content-Length: 2\r\nContent-Length: 3\r\n") + "\r\n{}", 400,
       "invalid_request", ""},
      {"header line without a colon", head("GET", "/v1/jobs", "NoColonHere\r\n") + "\r\n", 400,
       "invalid_request", ""},
      {"headers over 16 KiB",
       head("GET", "/v1/jobs", "X-Big: " + std::string(17 * 1024, 'b') + "\r\n") + "\r\n", 431,
       "invalid_request", ""},
      {"chunk size not hex",
       head("POST", "/v1/jobs", "Transfer-Encoding: chunked\r\n") + "\r\nzz\r\n{}\r\n0\r\n\r\n", 400,
       "invalid_request", ""},
      {"not HTTP at all", "NOT HTTP AT ALL\r\n\r\n", 400, "invalid_request", ""},
      {"bad percent-escape in the path", get("/v1/jobs/%zz"), 400, "invalid_request", ""},
      {"query limit not a number", get("/v1/jobs?limit=abc"), 400, "invalid_request", "limit"},
      {"query limit 2^64", get("/v1/jobs?limit=18446744073709551616"), 400, "invalid_request", "limit"},
      {"query after negative", get("/v1/jobs?after=-1"), 400, "invalid_request", "after"},
      {"query state bytes not UTF-8", get("/v1/jobs?state=%ff"), 400, "invalid_request", "state"},
      // Unknown routes and methods.
      {"unknown route", get("/v2/jobs"), 404, "not_found", ""},
      {"job id beyond 64 bits", get("/v1/jobs/99999999999999999999"), 404, "not_found", ""},
      {"image path with ..", get("/v1/jobs/1/images/../../../../etc/passwd"), 404, "not_found", ""},
      {"PUT on /v1/jobs", head("PUT", "/v1/jobs", "Content-Length: 2\r\n") + "\r\n{}", 405,
       "method_not_allowed", ""},
      {"an unknown method", head("BREW", "/v1/jobs") + "\r\n", 405, "method_not_allowed", ""},
      {"DELETE on /healthz", head("DELETE", "/healthz") + "\r\n", 405, "method_not_allowed", ""},
      {"POST on a job", head("POST", "/v1/jobs/1", "Content-Length: 2\r\n") + "\r\n{}", 405,
       "method_not_allowed", ""},
      // Never finished ([server] request_timeout_s = 1 here): closed without an answer.
      {"request line only", "GET /v1/jobs HTTP/1.1\r\n", 0, "", ""},
      {"headers never ended", "GET /v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\n", 0, "", ""},
      {"body shorter than its Content-Length",
       head("POST", "/v1/jobs", "Content-Length: 100\r\n") + "\r\n{\"prompt\"", 0, "", ""},
      {"chunked body without its last chunk",
       head("POST", "/v1/jobs", "Transfer-Encoding: chunked\r\n") + "\r\n5\r\n{\"pro\r\n", 0, "", ""},
  };
  return cases;
}

TEST(ServeMalformed, EachRequestGetsItsStatusAndTheServerStaysUp) {
  ServeOptions o;
  o.server_extra = "request_timeout_s = 1\n";
  ServeProcess server(fresh_dir("serve_malformed"), o);
  // Job 1 exists, so the paths below that name it reach past the job lookup.
  ASSERT_EQ(
      wait_for_state(server.port(), submit_job(server.port(), {{"prompt", "first"}}), "completed")["id"], 1);
  for (const Case& c : corpus()) {
    SCOPED_TRACE(c.name);
    Connection connection(server.port());
    connection.send(c.request);
    const std::string raw = connection.read_all();
    if (c.status == 0) {
      EXPECT_EQ(raw, "");
      continue;
    }
    const HttpReply reply = parse_reply(raw);
    EXPECT_EQ(reply.status, c.status) << reply.body;
    ASSERT_EQ(reply.headers.at("content-type"), "application/json") << reply.body;
    const json error = json_of(reply)["error"];
    EXPECT_EQ(error["kind"], c.kind) << error;
    EXPECT_FALSE(error["message"].get<std::string>().empty());
    EXPECT_EQ(error.value("field", "(none)"), c.field.empty() ? "(none)" : c.field) << error;
    if (c.status == 405) {
      EXPECT_EQ(reply.headers.count("allow"), 1u);
    }
  }
  const json done =
      wait_for_state(server.port(), submit_job(server.port(), {{"prompt", "still serving"}}), "completed");
  EXPECT_EQ(done["state"], "completed");
  EXPECT_EQ(json_of(http(server.port(), "GET", "/v1/jobs"))["jobs"].size(), 2u);  // no refused one was kept
  EXPECT_EQ(server.stop(), 0) << server.err();
}

// More unfinished requests than the server has HTTP threads (8) wait for their bytes while other
// clients are served: a slow client holds a socket, never a thread. Finished afterwards, they are
// answered: they were still open, so everything else was served before any of them timed out.
TEST(ServeMalformed, SlowClientsHoldNoThread) {
  ServeOptions o;
  o.server_extra = "request_timeout_s = 600\n";
  ServeProcess server(fresh_dir("serve_slow_clients"), o);
  std::vector<std::unique_ptr<Connection>> slow;
  for (int i = 0; i < 16; ++i) {
    slow.push_back(std::make_unique<Connection>(server.port()));
    slow.back()->send("GET /v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\n");
  }
  const json done =
      wait_for_state(server.port(), submit_job(server.port(), {{"prompt", "served"}}), "completed");
  EXPECT_EQ(done["state"], "completed");
  EXPECT_EQ(http(server.port(), "GET", done["images"][0]).status, 200);
  for (auto& c : slow) {
    c->send("Connection: close\r\n\r\n");
    EXPECT_EQ(parse_reply(c->read_all()).status, 200);
  }
  EXPECT_EQ(server.stop(), 0);
}

// A client that keeps sending, a byte at a time, never finishes its request: the deadline is for the
// whole request, not per byte, so the server closes it (after 1 s here) although bytes still come.
TEST(ServeMalformed, ADribblingClientIsCutOffAtTheRequestDeadline) {
  ServeOptions o;
  o.server_extra = "request_timeout_s = 1\n";
  ServeProcess server(fresh_dir("serve_dribble"), o);
  Connection dribbler(server.port());
  const std::string request = "GET /v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + std::string(400, 's');
  std::size_t sent = 0;
  for (; sent < request.size() && !dribbler.closed_by_server(); ++sent) {
    dribbler.send(request.substr(sent, 1));
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // 400 bytes: 20 s at most
  }
  EXPECT_LT(sent, request.size()) << "the server waited for a request that took 20 s";
  EXPECT_EQ(dribbler.read_all(), "");
  EXPECT_EQ(submit_job(server.port(), {{"prompt", "next"}}) > 0, true);
  EXPECT_EQ(server.stop(), 0);
}

}  // namespace
}  // namespace ftdr::test
