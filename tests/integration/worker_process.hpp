// tests/integration/worker_process.hpp: a real `ftdr worker --config FILE` (no --connect: a runner
// on the config's shared queue), its output appended to a log file; the test fixtures' plugins
// (test_backend) are found as for ServeProcess.
//
//   WorkerProcess worker(dir / "gpu-a.toml", dir / "gpu-a.log");   // or ..., "info": --log-level
//   worker.kill();   // SIGKILL, reaped
//   worker.start();  // again, same config
//   worker.stop();   // SIGTERM: its exit code
#pragma once
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <utility>

#include "integration/cli_runner.hpp"

namespace ftdr::test {

// `ftdr [--log-level LEVEL] worker --config FILE` (no --connect: it claims from the config's queue).
class WorkerProcess {
 public:
  WorkerProcess(std::filesystem::path config, std::filesystem::path log, std::string log_level = "")
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
      ::setenv("FTDR_PLUGIN_PATH", fixture_dir().c_str(), 1);  // the fixtures' backend, as ServeProcess
      if (log_level_.empty())
        ::execl(FTDR_FTDR_EXE, FTDR_FTDR_EXE, "worker", "--config", config_.c_str(), nullptr);
      else
        ::execl(FTDR_FTDR_EXE, FTDR_FTDR_EXE, "--log-level", log_level_.c_str(), "worker", "--config",
                config_.c_str(), nullptr);
      ::_exit(127);
    }
  }
  pid_t pid() const { return pid_; }
  bool alive() { return pid_ > 0 && ::waitpid(pid_, nullptr, WNOHANG) == 0; }
  // SIGTERM; the exit code once it ended (-1: killed by a signal).
  int stop() {
    if (pid_ <= 0) return -1;
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
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

}  // namespace ftdr::test
