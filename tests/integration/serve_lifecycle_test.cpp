// `ftdr serve`'s life on the real binary: ready only once the model is loaded, a signal while it
// loads, and priorities (an urgent job overtakes waiting low ones).
#include <gtest/gtest.h>

#include "integration/serve_process.hpp"

namespace ftdr::test {
namespace {

using nlohmann::json;

// The test backend sleeps 3 s in load(): long enough for the requests below to come first.
ServeOptions slow_load() {
  ServeOptions o;
  o.load_ms = 3000;
  o.wait_ready = false;
  return o;
}

TEST(ServeLifecycle, ReadyOnlyOnceTheModelIsLoaded) {
  ServeProcess server(fresh_dir("serve_ready"), slow_load());
  EXPECT_EQ(http(server.port(), "GET", "/healthz").status, 200);
  EXPECT_EQ(http(server.port(), "GET", "/readyz").status, 503);
  const HttpReply early = http(server.port(), "POST", "/v1/jobs", R"({"prompt": "too early"})");
  EXPECT_EQ(early.status, 503);
  EXPECT_EQ(json_of(early)["error"]["kind"], "not_ready");
  EXPECT_EQ(http(server.port(), "GET", "/v1/models").status, 503);
  EXPECT_EQ(server.out().find("ftdr serve: ready"), std::string::npos);

  server.wait_ready();
  EXPECT_NE(server.out().find("ftdr serve: ready\n"), std::string::npos);
  EXPECT_EQ(http(server.port(), "GET", "/v1/models").status, 200);
  EXPECT_EQ(http(server.port(), "POST", "/v1/jobs", R"({"prompt": "in time"})").status, 202);
  EXPECT_EQ(server.stop(), 0);
}

TEST(ServeLifecycle, SignalWhileTheModelLoadsExitsAtOnce) {
  ServeProcess server(fresh_dir("serve_load_signal"), slow_load());
  EXPECT_EQ(server.stop(), 0);
  EXPECT_NE(server.err().find("ftdr serve: signal 15 while loading the model: exiting"), std::string::npos)
      << server.err();
}

TEST(ServeLifecycle, UrgentJobOvertakesWaitingLowOnes) {
  ServeOptions o;
  o.step_ms = 50;
  o.steps = 4;
  ServeProcess server(fresh_dir("serve_priority"), o);
  // 40 steps (2 s): it runs while the others are queued behind it, however slow the machine.
  const std::int64_t first = submit_job(server.port(), {{"prompt", "running"}, {"steps", 40}});
  wait_for_state(server.port(), first, "diffusion_running");
  const std::int64_t low1 = submit_job(server.port(), {{"prompt", "low 1"}, {"priority", "low"}});
  const std::int64_t low2 = submit_job(server.port(), {{"prompt", "low 2"}, {"priority", "low"}});
  const std::int64_t urgent = submit_job(server.port(), {{"prompt", "urgent"}, {"priority", "urgent"}});
  const auto finished = [&](std::int64_t id) {
    return wait_for_state(server.port(), id, "completed")["finished_ms"].get<std::int64_t>();
  };
  const std::int64_t t_urgent = finished(urgent), t_low1 = finished(low1), t_low2 = finished(low2);
  EXPECT_LT(t_urgent, t_low1);
  EXPECT_LT(t_low1, t_low2);
  EXPECT_EQ(job_status(server.port(), urgent)["priority"], "urgent");
  EXPECT_EQ(server.stop(), 0);
}

TEST(ServeLifecycle, BadOrTakenListenAddressExits2NamingIt) {
  const auto dir = fresh_dir("serve_listen");
  write_file(dir / "serve.toml", serve_config_text(dir, {}));
  const std::map<std::string, std::string> env{{"FTDR_PLUGIN_PATH", fixture_dir()}};
  const CliResult bad =
      run_ftdr({"serve", "--config", (dir / "serve.toml").string(), "--listen", "localhost:80"}, env, dir);
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("--listen: expected HOST:PORT with an IP address and a port in [0, 65535] (got "
                         "'localhost:80')"),
            std::string::npos)
      << bad.err;

  ServeProcess first(dir / "first");
  const std::string taken = "127.0.0.1:" + std::to_string(first.port());
  const CliResult second =
      run_ftdr({"serve", "--config", (dir / "serve.toml").string(), "--listen", taken}, env, dir);
  EXPECT_EQ(second.exit_code, 2);
  EXPECT_NE(second.err.find("cannot listen on " + taken + ": Address already in use"), std::string::npos)
      << second.err;
  EXPECT_EQ(first.stop(), 0);
}

}  // namespace
}  // namespace ftdr::test
