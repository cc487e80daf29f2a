// tests/integration/redis_fleet.hpp: the pieces of a fleet around one Redis for the end-to-end tests
// (serve_redis_fleet_test.cpp: a shared folder; serve_redis_blobs_test.cpp: files in the queue).
//
//   ServeProcess server(dir, fleet_config(dir, o) + "[queue]\nplugin = \"redis\"\n...");
//   WorkerProcess worker(dir / "serve.toml", dir / "worker0.log");   // `ftdr worker --config`
//   worker.kill(); worker.start();
#pragma once
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "integration/serve_demo.hpp"

namespace ftdr::test {

// `ftdr --log-level LEVEL worker --config FILE` (no --connect: it claims from the config's queue).
class WorkerProcess {
 public:
  WorkerProcess(std::filesystem::path config, std::filesystem::path log, std::string log_level = "warn")
      : config_(std::move(config)), log_(std::move(log)), log_level_(std::move(log_level)) {
    start();
  }
  ~WorkerProcess() { kill(); }
  void start() {
    pid_ = ::fork();
    if (pid_ == 0) {
      const int fd = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      ::execl(FTDR_FTDR_EXE, FTDR_FTDR_EXE, "--log-level", log_level_.c_str(), "worker", "--config",
              config_.c_str(), nullptr);
      ::_exit(127);
    }
  }
  bool alive() { return pid_ > 0 && ::waitpid(pid_, nullptr, WNOHANG) == 0; }
  void kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

 private:
  std::filesystem::path config_, log_;
  std::string log_level_;
  pid_t pid_ = -1;
};

// One intra-op thread everywhere: the measured split (threads = 0) is per state folder, and the
// split changes the pixels.
inline std::string fleet_config(const std::filesystem::path& dir, const DemoOptions& o) {
  std::string text = demo_config(dir, o);
  const std::string device = "device = \"cpu\"\n";
  return text.replace(text.find(device), device.size(), device + "threads = 1\n");
}

}  // namespace ftdr::test
