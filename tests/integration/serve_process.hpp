// tests/integration/serve_process.hpp: the real `ftdr serve` on a free loopback port, with the test
// fixtures' backend (no libtorch), and the requests the server tests repeat.
//
//   ServeOptions o; o.step_ms = 100;
//   ServeProcess server(dir, o);        // starts, reads the port it printed, waits for /readyz 200
//   HttpReply r = http(server.port(), "GET", "/v1/jobs");
//   server.kill(SIGKILL);               // or stop(): SIGTERM and the exit code
#pragma once
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "integration/cli_runner.hpp"
#include "integration/http_client.hpp"

namespace ftdr::test {

struct ServeOptions {
  int step_ms = 0;  // [backend.test_backend] step_ms: how long each step takes
  int steps = 3;    // [generate] steps
  int queue_capacity = 64;
  std::string shutdown = "drain";
  std::string server_extra;  // more [server] keys
  std::string token;         // not empty: written to token.txt, named by [server] token_file
  int load_ms = 0;           // [backend.test_backend] load_ms: how long the model takes to load
  bool wait_ready = true;    // start() returns once /readyz answers 200 (else once the port is known)
  std::string extra;         // more tables, at the end of the file
};

inline std::string serve_config_text(const std::filesystem::path& dir, const ServeOptions& o) {
  return "[runtime]\nstate_dir = \"" + (dir / "state").string() + "\"\noutput_dir = \"" +
         (dir / "out").string() + "\"\nqueue_capacity = " + std::to_string(o.queue_capacity) +
         "\nshutdown = \"" + o.shutdown + "\"\n[model]\npath = \"" + std::string(FTDR_SOURCE_DIR) +
         "/tests/fixtures/models/tiny\"\n" +
         "[backend]\nplugin = \"test_backend\"\n[backend.test_backend]\nstep_ms = " +
         std::to_string(o.step_ms) + "\nload_ms = " + std::to_string(o.load_ms) +
         "\n[scheduler]\nplugin = \"priority\"\n[memory]\npolicy = \"sequential\"\n[server]\nlisten = "
         "\"127.0.0.1:0\"\n" +
         o.server_extra + "[generate]\nwidth = 16\nheight = 8\nsteps = " + std::to_string(o.steps) +
         "\nseed = 7\n" + o.extra;
}

class ServeProcess {
 public:
  ServeProcess(const std::filesystem::path& dir, const ServeOptions& options = {}) : dir_(dir) {
    std::filesystem::create_directories(dir);
    config_ = dir / "serve.toml";
    ServeOptions o = options;
    if (!o.token.empty()) {
      write_file(dir / "token.txt", o.token + "\n");
      o.server_extra += "token_file = \"token.txt\"\n";
      auth_ = "Authorization: Bearer " + o.token;
    }
    write_file(config_, serve_config_text(dir, o));
    wait_ready_ = o.wait_ready;
    start();
  }
  // With a config of the test's own (it must listen on 127.0.0.1:0).
  ServeProcess(const std::filesystem::path& dir, const std::string& config_text) : dir_(dir) {
    std::filesystem::create_directories(dir);
    config_ = dir / "serve.toml";
    write_file(config_, config_text);
    start();
  }
  ~ServeProcess() {
    if (pid_ > 0) kill(SIGKILL);
  }

  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  const std::filesystem::path& dir() const { return dir_; }

  // Starts (again) with the same config and state folder.
  void start() {
    out_ = dir_ / ("serve.out." + std::to_string(starts_));
    err_ = dir_ / ("serve.err." + std::to_string(starts_++));
    pid_ = ::fork();
    if (pid_ == 0) {
      const int out = ::open(out_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      const int err = ::open(err_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ::dup2(out, 1);
      ::dup2(err, 2);
      ::setenv("FTDR_PLUGIN_PATH", fixture_dir().c_str(), 1);
      ::execl(FTDR_FTDR_EXE, FTDR_FTDR_EXE, "serve", "--config", config_.c_str(), nullptr);
      ::_exit(127);
    }
    port_ = wait_for_port();
    if (wait_ready_) wait_ready();
  }
  void kill(int sig) {
    ::kill(pid_, sig);
    if (sig == SIGKILL) wait_exit();
  }
  // SIGTERM, then the exit code (-1: killed by a signal).
  int stop() {
    ::kill(pid_, SIGTERM);
    return wait_exit();
  }
  std::string err() const { return read_text(err_); }
  std::string out() const { return read_text(out_); }

  void wait_ready() {
    for (int i = 0; i < 3000; ++i) {
      if (http(port_, "GET", "/readyz", "",
               auth_.empty() ? std::vector<std::string>{} : std::vector<std::string>{auth_})
              .status == 200)
        return;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    throw std::runtime_error("ftdr serve not ready within 30 s: " + read_text(err_));
  }

 private:
  static std::string read_text(const std::filesystem::path& p) {
    std::ifstream in(p);
    return {std::istreambuf_iterator<char>(in), {}};
  }
  int wait_exit() {
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  // The line "ftdr serve: listening on http://127.0.0.1:PORT" on stdout.
  int wait_for_port() {
    const std::string head = "listening on http://127.0.0.1:";
    for (int i = 0; i < 3000; ++i) {
      const std::string out = read_text(out_);
      if (auto at = out.find(head); at != std::string::npos && out.find('\n', at) != std::string::npos)
        return std::stoi(out.substr(at + head.size()));
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        throw std::runtime_error("ftdr serve exited at start: " + read_text(err_));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    throw std::runtime_error("ftdr serve printed no port within 30 s: " + read_text(err_));
  }

  std::filesystem::path dir_, config_, out_, err_;
  std::string auth_;
  bool wait_ready_ = true;
  pid_t pid_ = -1;
  int port_ = 0;
  int starts_ = 0;
};

inline nlohmann::json json_of(const HttpReply& r) { return nlohmann::json::parse(r.body); }

// POST /v1/jobs; the job's id (the test fails on anything but 202).
inline std::int64_t submit_job(int port, const nlohmann::json& body) {
  const HttpReply r = http(port, "POST", "/v1/jobs", body.dump());
  if (r.status != 202) throw std::runtime_error("POST /v1/jobs: " + std::to_string(r.status) + " " + r.body);
  return json_of(r)["id"].get<std::int64_t>();
}

inline nlohmann::json job_status(int port, std::int64_t id) {
  return json_of(http(port, "GET", "/v1/jobs/" + std::to_string(id)));
}

// Polls GET /v1/jobs/{id} until its state is `state` (or a final state); returns the last status.
inline nlohmann::json wait_for_state(int port, std::int64_t id, const std::string& state) {
  for (int i = 0; i < 6000; ++i) {
    nlohmann::json s = job_status(port, id);
    const std::string now = s["state"];
    if (now == state || now == "completed" || now == "failed" || now == "cancelled") return s;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  throw std::runtime_error("job " + std::to_string(id) + " not " + state + " within 60 s");
}

// The checkpoint files in <state_dir>/jobs/*/.
inline std::vector<std::string> checkpoint_files(const std::filesystem::path& state) {
  std::vector<std::string> files;
  std::error_code ec;
  for (const auto& dir : std::filesystem::directory_iterator(state / "jobs", ec))
    for (const auto& file : std::filesystem::directory_iterator(dir.path()))
      files.push_back(file.path().filename().string());
  return files;
}

// The PNG of image 0 of a job, once it completed; throws when it ends otherwise.
inline std::string png_of(int port, std::int64_t id) {
  const nlohmann::json done = wait_for_state(port, id, "completed");
  if (done["state"] != "completed")
    throw std::runtime_error("job " + std::to_string(id) + ": " + done.dump());
  return http(port, "GET", "/v1/jobs/" + std::to_string(id) + "/images/0").body;
}

}  // namespace ftdr::test
