// tests/integration/cli_runner.hpp: runs the real `ftdr` executable (FTDR_FTDR_EXE) and captures
// its exit code, stdout and stderr. Extra environment variables apply to the child only.
#pragma once
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <thread>
#include <vector>

namespace ftdr::test {

struct CliResult {
  int exit_code = -1;  // -1: killed by a signal
  std::string out, err;
};

class CliProcess {
 public:
  // Starts `exe args...` with stdout/stderr going to files in `dir`.
  CliProcess(const std::vector<std::string>& args, const std::map<std::string, std::string>& env,
             const std::filesystem::path& dir, const std::string& exe = FTDR_FTDR_EXE)
      : out_(dir / ("stdout." + tag())), err_(dir / ("stderr." + tag())) {
    std::filesystem::create_directories(dir);
    pid_ = ::fork();
    if (pid_ == 0) {
      int out = ::open(out_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      int err = ::open(err_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ::dup2(out, 1);
      ::dup2(err, 2);
      for (const auto& [k, v] : env) ::setenv(k.c_str(), v.c_str(), 1);
      std::vector<char*> argv{const_cast<char*>(exe.c_str())};
      for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      ::execv(exe.c_str(), argv.data());
      ::_exit(127);
    }
  }
  void signal(int sig) { ::kill(pid_, sig); }
  std::string err_so_far() const { return read(err_); }
  CliResult wait() {
    int status = 0;
    ::waitpid(pid_, &status, 0);
    CliResult r;
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    r.out = read(out_);
    r.err = read(err_);
    return r;
  }

 private:
  // Unique per call and per test process (ctest runs tests in parallel processes).
  static std::string tag() {
    static int n = 0;
    return std::to_string(::getpid()) + "." + std::to_string(n++);
  }
  static std::string read(const std::filesystem::path& p) {
    std::ifstream in(p);
    return {std::istreambuf_iterator<char>(in), {}};
  }
  std::filesystem::path out_, err_;
  pid_t pid_ = -1;
};

// A fresh temporary folder per test, removed afterwards.
inline std::filesystem::path fresh_dir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() / ("ftdr_it_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

inline CliResult run_ftdr(const std::vector<std::string>& args,
                          const std::map<std::string, std::string>& env = {},
                          const std::filesystem::path& dir = std::filesystem::temp_directory_path() /
                                                             "ftdr_it_io") {
  return CliProcess(args, env, dir).wait();
}

inline std::string fixture_dir() { return std::string(FTDR_BINARY_DIR) + "/test-fixtures"; }

inline void write_file(const std::filesystem::path& p, const std::string& text) { std::ofstream(p) << text; }

}  // namespace ftdr::test
