// `ftdr serve` with worker processes ([workers], docs/workers.md) on the test backend: the server
// loads no backend, jobs run in the workers, GET /v1/workers, a worker started by hand, the
// protocol's refusals and frame limits on the real socket, and bad [workers] values.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/asio/write.hpp>

#include "ftdr/framework/workers/frame_channel.hpp"
#include "ftdr/framework/workers/worker_protocol.hpp"
#include "integration/fixture_config.hpp"
#include "integration/serve_workers_support.hpp"

namespace ftdr::test {
namespace {

namespace fs = std::filesystem;
namespace fw = ftdr::framework;
using nlohmann::json;
using testing::EndsWith;
using testing::HasSubstr;

TEST(ServeWorkers, TheServerLoadsNoBackendAndTheWorkersRunTheJobs) {
  ServeOptions o = worker_options("", "", 2);
  ServeProcess server(fresh_dir("workers_split"), o);
  const int port = server.port();
  const std::string png = png_of_job(port, submit_job(port, {{"prompt", "two workers"}}));
  EXPECT_EQ(png_size(png), std::make_pair(16, 8));
  json workers;  // both loaded: /readyz waits for the first only
  for (int i = 0; i < 3000; ++i) {
    workers = workers_of(port);
    if (workers.size() == 2 && workers[0]["state"] == "idle" && workers[1]["state"] == "idle") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(workers.size(), 2u) << workers.dump();
  // The backend plugin (and so libtorch, with the real backend) is mapped in the workers only.
  EXPECT_THAT(maps_of(server.pid()), testing::Not(HasSubstr("ftdr_plugin_test_backend")));
  EXPECT_THAT(maps_of(server.pid()), testing::Not(HasSubstr("libtorch")));
  for (const auto& w : workers) {
    EXPECT_EQ(w["supervised"], true);
    EXPECT_EQ(w["restarts"], 0);
    EXPECT_THAT(maps_of(w["pid"].get<pid_t>()), HasSubstr("ftdr_plugin_test_backend"));
  }
  const json plugins = json_of(http(port, "GET", "/v1/plugins"));
  EXPECT_THAT(plugins.dump(), HasSubstr("\"test_backend\""));  // as the workers loaded them
  EXPECT_EQ(metric_line(port, "ftdr_workers{state=\"idle\"}"), "ftdr_workers{state=\"idle\"} 2");
  EXPECT_EQ(server.stop(), 0);
  for (const auto& w : workers) EXPECT_NE(::kill(w["pid"].get<pid_t>(), 0), 0);  // the workers ended too
}

TEST(ServeWorkers, WithoutWorkersTheListSaysInProcess) {
  ServeProcess server(fresh_dir("workers_none"));
  const json all = json_of(http(server.port(), "GET", "/v1/workers"));
  EXPECT_EQ(all["workers"], json::array());
  EXPECT_EQ(all["in_process"], true);
  ASSERT_EQ(all["runners"].size(), 1u) << "the server's own runner on its local queue: " << all.dump();
  EXPECT_EQ(all["runners"][0]["pid"], server.pid());
  EXPECT_EQ(all["runners"][0]["state"], "idle");
  EXPECT_THAT(all["runners"][0]["name"].get<std::string>(), EndsWith("/" + std::to_string(server.pid())));
  EXPECT_EQ(server.stop(), 0);
}

TEST(ServeWorkers, AWorkerStartedByHandJoinsAndRunsJobs) {
  ServeOptions o = worker_options("");
  o.step_ms = 30;
  ServeProcess server(fresh_dir("workers_by_hand"), o);
  const int port = server.port();
  CliProcess by_hand({"worker", "--config", (server.dir() / "serve.toml").string(), "--connect",
                      (server.dir() / "state" / "workers.sock").string()},
                     fixture_env(), server.dir());
  json workers;
  for (int i = 0; i < 3000 && (workers = workers_of(port)).size() < 2; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_EQ(workers.size(), 2u) << workers.dump();
  EXPECT_EQ(workers[1]["supervised"], false);
  std::vector<std::int64_t> ids;
  for (int i = 0; i < 4; ++i) ids.push_back(submit_job(port, {{"prompt", "by hand"}, {"seed", i}}));
  for (auto id : ids) EXPECT_EQ(png_size(png_of_job(port, id)), std::make_pair(16, 8));
  EXPECT_EQ(server.stop(), 0);
  EXPECT_EQ(by_hand.wait().exit_code, 0);  // told to stop
}

TEST(ServeWorkers, APeerOfAnotherMajorVersionIsRefusedAndABadFrameClosesOnlyItsConnection) {
  ServeProcess server(fresh_dir("workers_protocol"), worker_options(""));
  const std::string socket = (server.dir() / "state" / "workers.sock").string();
  auto other = fw::FrameChannel::connect(socket);
  other->send({{"type", "hello"}, {"protocol", {fw::kProtocolMajor + 1, 0}}, {"pid", 1}});
  const auto refused = other->receive();
  ASSERT_TRUE(refused);
  EXPECT_EQ((*refused)["type"], "refused");
  EXPECT_EQ((*refused)["message"],
            "the worker speaks worker protocol " + std::to_string(fw::kProtocolMajor + 1) + ".0, this side " +
                std::to_string(fw::kProtocolMajor) + "." + std::to_string(fw::kProtocolMinor) +
                " (another major version: run the same ftdr build on both sides)");
  EXPECT_FALSE(other->receive());  // and closed

  const std::string oversize = "\xff\xff\xff\xff";
  boost::asio::io_context io;
  boost::asio::local::stream_protocol::socket raw(io);
  raw.connect(boost::asio::local::stream_protocol::endpoint(socket));
  const std::string hello =
      fw::encode_frame({{"type", "hello"}, {"protocol", fw::protocol_version_json()}, {"pid", 3}});
  boost::asio::write(raw, boost::asio::buffer(hello + oversize));
  char byte;
  boost::system::error_code ec;
  std::size_t n = 0;
  while (!ec) n += raw.read_some(boost::asio::buffer(&byte, 1), ec);  // the welcome, then the end
  EXPECT_EQ(ec, boost::asio::error::eof);
  EXPECT_GT(n, 0u);
  EXPECT_EQ(http(server.port(), "GET", "/healthz").status, 200);  // the server goes on
  EXPECT_EQ(png_size(png_of_job(server.port(), submit_job(server.port(), {{"prompt", "after"}}))),
            std::make_pair(16, 8));
  EXPECT_THAT(server.err(),
              HasSubstr("announces 4294967295 bytes, over the 16777216-byte limit; closing the connection"));
  EXPECT_EQ(server.stop(), 0);
}

TEST(ServeWorkers, WhenNoWorkerCanLoadTheModelTheServerExits2WithTheWorkersError) {
  const auto dir = fresh_dir("workers_no_model");
  const auto file = write_fixture_config(  // the workers refuse their plugin's config
      dir,
      "[backend.test_backend]\nno_such_key = 1\n[server]\nlisten = \"127.0.0.1:0\"\n[workers]\ncount = 1\n");
  const CliResult r = run_ftdr({"serve", "--config", file.string()}, fixture_env(), dir);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_THAT(r.err, HasSubstr("no_such_key"));  // the worker's own error, on the shared stderr
  EXPECT_THAT(r.err, HasSubstr("ftdr serve: no worker loaded the model: worker 0 (pid "));
  EXPECT_THAT(r.err, HasSubstr("exited with code 2 (its own error is printed above)"));
}

TEST(ServeWorkers, AWorkerWithoutAServerSaysWhatIsMissing) {
  const auto dir = fresh_dir("workers_cli");
  const auto file = write_fixture_config(dir);
  const CliResult none = run_ftdr({"worker", "--config", file.string()}, fixture_env(), dir);
  EXPECT_EQ(none.exit_code, 2);
  // Without --connect it would be a runner on a shared queue: the default `local` one is refused.
  EXPECT_THAT(none.err, HasSubstr("[queue] plugin = \"local\": the local queue is one `ftdr serve` process's "
                                  "journal and no other process may use it"));
  EXPECT_THAT(none.err, HasSubstr("or use --connect SOCKET"));
  EXPECT_FALSE(std::filesystem::exists(dir / "state" / "journal.sqlite"));  // never opened
  const std::string socket = (dir / "no.sock").string();
  const CliResult absent =
      run_ftdr({"worker", "--config", file.string(), "--connect", socket}, fixture_env(), dir);
  EXPECT_EQ(absent.exit_code, 2);
  EXPECT_THAT(absent.err, HasSubstr("--connect: cannot connect to the worker socket '" + socket +
                                    "': No such file or directory"));
}

TEST(ServeWorkers, BadWorkersValuesAreRefusedNamingTheKey) {
  const auto dir = fresh_dir("workers_config");
  const auto file = write_fixture_config(
      dir,
      "[workers]\ncount = 65\nstep_timeout_s = 0\nrestart_backoff_ms = 100\nrestart_backoff_max_ms = 50\n"
      "max_crashes_per_job = 0\n");
  const CliResult r = run_ftdr({"serve", "--config", file.string()}, fixture_env(), dir);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_THAT(r.err, HasSubstr("'workers.count': expected an integer in [0, 64] (got 65)"));
  EXPECT_THAT(
      r.err,
      HasSubstr("'workers.step_timeout_s': expected a number in [0.100000, 86400.000000] (got 0.000000)"));
  EXPECT_THAT(
      r.err,
      HasSubstr("'workers.restart_backoff_max_ms': expected an integer >= restart_backoff_ms (100), got 50"));
  EXPECT_THAT(r.err, HasSubstr("'workers.max_crashes_per_job': expected an integer in [1, 100] (got 0)"));
}

}  // namespace
}  // namespace ftdr::test
