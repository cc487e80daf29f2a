// tests/integration/http_client.hpp: a minimal HTTP/1.1 client over a raw loopback socket, so the
// server tests speak to `ftdr serve` the way any client would, with nothing of the server's code.
// Every request says "Connection: close" and reads to the end (event streams included).
#pragma once
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace ftdr::test {

struct HttpReply {
  int status = 0;
  std::map<std::string, std::string> headers;  // names in lower case
  std::string body;
};

// A connected socket; reads give up after 60 s so a server bug fails a test instead of hanging it.
class Connection {
 public:
  explicit Connection(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    timeval tv{60, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
      throw std::runtime_error("cannot connect to port " + std::to_string(port));
  }
  ~Connection() { ::close(fd_); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  void send(const std::string& bytes) {
    std::size_t sent = 0;
    while (sent < bytes.size()) {
      const auto n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return;  // the server closed early (a refused body): the reply says why
      sent += static_cast<std::size_t>(n);
    }
  }
  // Reads until what was received holds `marker` (an event stream's next event); false at the close.
  bool read_until(const std::string& marker, std::string& received) {
    char buf[4096];
    while (received.find(marker) == std::string::npos) {
      const auto n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) return false;
      received.append(buf, static_cast<std::size_t>(n));
    }
    return true;
  }
  // True once the server closed the connection (reads nothing, waits for nothing; bytes it sent
  // are kept for read_all()).
  bool closed_by_server() {
    char buf[4096];
    for (;;) {
      const auto n = ::recv(fd_, buf, sizeof buf, MSG_DONTWAIT);
      if (n == 0 || (n < 0 && errno == ECONNRESET)) return true;
      if (n < 0) return false;  // EAGAIN: still open
      unread_.append(buf, static_cast<std::size_t>(n));
    }
  }
  // Everything until the server closes; throws when it stays open past the read timeout.
  std::string read_all() {
    std::string out = std::move(unread_);
    char buf[65536];
    for (;;) {
      const auto n = ::recv(fd_, buf, sizeof buf, 0);
      if (n == 0) return out;
      if (n < 0) {
        if (errno == ECONNRESET) return out;
        throw std::runtime_error("no end of the reply within 60 s (got " + std::to_string(out.size()) +
                                 " bytes)");
      }
      out.append(buf, static_cast<std::size_t>(n));
    }
  }

 private:
  int fd_ = -1;
  std::string unread_;  // received by closed_by_server()
};

inline HttpReply parse_reply(const std::string& raw) {
  HttpReply r;
  const auto end = raw.find("\r\n\r\n");
  if (raw.rfind("HTTP/1.1 ", 0) != 0 || end == std::string::npos)
    throw std::runtime_error("not an HTTP reply: '" + raw.substr(0, 200) + "'");
  r.status = std::stoi(raw.substr(9, 3));
  std::size_t line = raw.find("\r\n") + 2;
  while (line < end) {
    const auto next = raw.find("\r\n", line);
    const std::string header = raw.substr(line, next - line);
    const auto colon = header.find(':');
    std::string name = header.substr(0, colon);
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    r.headers[name] = header.substr(header.find_first_not_of(' ', colon + 1));
    line = next + 2;
  }
  r.body = raw.substr(end + 4);
  return r;
}

inline HttpReply http(int port, const std::string& method, const std::string& target,
                      const std::string& body = "", const std::vector<std::string>& headers = {}) {
  Connection c(port);
  std::string request = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n";
  for (const auto& h : headers) request += h + "\r\n";
  if (!body.empty() || method == "POST") request += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  c.send(request + "\r\n" + body);
  return parse_reply(c.read_all());
}

// Width and height from a PNG's IHDR; {0, 0} when the bytes are not a PNG.
inline std::pair<int, int> png_size(const std::string& bytes) {
  static const std::string signature = "\x89PNG\r\n\x1a\n";
  if (bytes.size() < 24 || bytes.compare(0, 8, signature) != 0 || bytes.compare(12, 4, "IHDR") != 0)
    return {0, 0};
  const auto be32 = [&](std::size_t at) {
    int v = 0;
    for (std::size_t i = 0; i < 4; ++i) v = (v << 8) | static_cast<unsigned char>(bytes[at + i]);
    return v;
  };
  return {be32(16), be32(20)};
}

}  // namespace ftdr::test
