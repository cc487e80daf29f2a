// tests/common/redis_server.hpp: a real redis-server (the Debian package) for one test or benchmark,
// on a free loopback port, in a temp folder of its own that goes with it.
//
//   if (auto why = RedisServer::unavailable(); !why.empty()) GTEST_SKIP() << why;
//   RedisServer redis(/*appendonly*/ true);
//   std::string url = redis.url();     // "redis://127.0.0.1:PORT/0"
//   redis.kill(); redis.start();       // SIGKILL, then again on the same port with the same data
//   redis.pause(); redis.resume();     // SIGSTOP / SIGCONT: connections open, no answers
//   RedisServer tls(false, "", RedisTls::on);  // TLS only: url() is "rediss://127.0.0.1:PORT/0",
//                                               // tls()->ca() the CA that signed its certificate
//
// Persistence only where asked: --save "" always, and --appendonly yes with appendfsync always, so
// a SIGKILL loses nothing that was acknowledged.
#pragma once
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "common/tls_certs.hpp"

namespace ftdr::test {

// A server without TLS, with TLS (--tls-auth-clients no), with TLS and client certificates required,
// or with TLS and a certificate for another host name (other.example) than the one clients dial.
enum class RedisTls { off, on, client_certificates, other_host };

class RedisServer {
 public:
  // The redis-server on PATH, or "".
  static std::string binary() {
    const char* path = std::getenv("PATH");
    std::stringstream dirs(path ? path : "/usr/bin:/usr/sbin");
    for (std::string dir; std::getline(dirs, dir, ':');) {
      const std::filesystem::path candidate = std::filesystem::path(dir) / "redis-server";
      if (!dir.empty() && ::access(candidate.c_str(), X_OK) == 0) return candidate.string();
    }
    return "";
  }
  // Why these tests cannot run here; "" when they can.
  static std::string unavailable() {
    if (binary().empty())
      return "redis-server is not installed (Debian package redis-server; scripts/setup-deps.sh installs it)";
    return "";
  }

  // appendonly: persistence (appendfsync always); password not empty: --requirepass.
  explicit RedisServer(bool appendonly = false, std::string password = "", RedisTls tls = RedisTls::off)
      : appendonly_(appendonly), password_(std::move(password)), tls_mode_(tls) {
    std::string tmpl = (std::filesystem::temp_directory_path() / "ftdr-redis-XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) throw std::runtime_error("redis fixture: mkdtemp failed");
    dir_ = tmpl;
    if (tls != RedisTls::off) certs_ = std::make_unique<TlsCerts>(dir_ / "tls", tls == RedisTls::other_host);
    for (int attempt = 1;; ++attempt) {  // another process may take the free port before Redis does
      port_ = free_port();
      try {
        start();
        return;
      } catch (const std::runtime_error&) {
        if (attempt == 3) throw;
      }
    }
  }
  ~RedisServer() {
    if (pid_ > 0) {
      ::kill(pid_, SIGCONT);  // a paused server would otherwise ignore nothing but SIGKILL anyway
      kill();
    }
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  int port() const { return port_; }
  std::string url() const {
    return (certs_ ? "rediss://" : "redis://") + std::string("127.0.0.1:") + std::to_string(port_) + "/0";
  }
  const TlsCerts* tls() const { return certs_.get(); }  // null without TLS
  bool requires_client_certificates() const { return tls_mode_ == RedisTls::client_certificates; }
  const std::filesystem::path& dir() const { return dir_; }
  std::string log() const {
    std::ifstream in(dir_ / "redis.log");
    return {std::istreambuf_iterator<char>(in), {}};
  }

  // Starts (again) on the same port and folder; returns once it answers PING with PONG.
  void start() {
    std::vector<std::string> args{binary(),
                                  "--port",
                                  std::to_string(port_),
                                  "--bind",
                                  "127.0.0.1",
                                  "--dir",
                                  dir_.string(),
                                  "--logfile",
                                  (dir_ / "redis.log").string(),
                                  "--save",
                                  "",
                                  "--appendonly",
                                  appendonly_ ? "yes" : "no",
                                  "--appendfsync",
                                  "always",
                                  "--daemonize",
                                  "no"};
    if (!password_.empty()) args.insert(args.end(), {"--requirepass", password_});
    if (certs_) tls_args(args);
    const auto ready_before = readiness_lines();
    pid_ = ::fork();
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive the test
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    wait_ready(ready_before);
  }
  void kill() { signal_and_wait(SIGKILL); }
  void stop() { signal_and_wait(SIGTERM); }  // Redis finishes its AOF and exits
  void pause() { ::kill(pid_, SIGSTOP); }
  void resume() { ::kill(pid_, SIGCONT); }

 private:
  static int free_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      ::close(fd);
      throw std::runtime_error("redis fixture: no free loopback port");
    }
    ::close(fd);
    return ntohs(a.sin_port);
  }

  // TLS only: the TCP port stays closed, Redis listens on --tls-port.
  void tls_args(std::vector<std::string>& args) const {
    args[2] = "0";  // --port 0
    args.insert(args.end(),
                {"--tls-port", std::to_string(port_), "--tls-cert-file", certs_->server_cert().string(),
                 "--tls-key-file", certs_->server_key().string(), "--tls-ca-cert-file", certs_->ca().string(),
                 "--tls-auth-clients", tls_mode_ == RedisTls::client_certificates ? "yes" : "no"});
  }

  // A plain PING cannot reach a TLS-only server; its log says when it is ready (after loading its AOF).
  std::size_t readiness_lines() const {
    const std::string text = log();
    std::size_t n = 0;
    for (auto at = text.find("Ready to accept connections"); at != std::string::npos;
         at = text.find("Ready to accept connections", at + 1))
      ++n;
    return n;
  }

  void signal_and_wait(int sig) {
    if (pid_ <= 0) return;
    ::kill(pid_, sig);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }

  // "+PONG" to a PING (a server loading its AOF answers -LOADING first; a password: -NOAUTH, also up).
  bool answers() const {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(port_));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    timeval tv{1, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    bool up = false;
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 && ::write(fd, "PING\r\n", 6) == 6) {
      char buf[64] = {};
      const auto n = ::read(fd, buf, sizeof buf - 1);
      const std::string reply(buf, n > 0 ? static_cast<std::size_t>(n) : 0);
      up = reply.rfind("+PONG", 0) == 0 || reply.rfind("-NOAUTH", 0) == 0;
    }
    ::close(fd);
    return up;
  }

  void wait_ready(std::size_t ready_before) {
    for (int i = 0; i < 1000; ++i) {
      if (certs_ ? readiness_lines() > ready_before : answers()) return;
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        throw std::runtime_error("redis-server exited at start: " + log());
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    throw std::runtime_error("redis-server did not answer PING within 10 s: " + log());
  }

  bool appendonly_ = false;
  std::string password_;
  RedisTls tls_mode_ = RedisTls::off;
  std::unique_ptr<TlsCerts> certs_;
  std::filesystem::path dir_;
  int port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace ftdr::test
