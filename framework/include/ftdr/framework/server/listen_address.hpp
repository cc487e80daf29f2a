// ftdr/framework/server/listen_address.hpp: "HOST:PORT" as [server] listen and `--listen` take it.
//
//   ListenAddress a = parse_listen_address("127.0.0.1:7860");   // {"127.0.0.1", 7860}
//   parse_listen_address("[::1]:0");                              // {"::1", 0}: any free port
//
// HOST is an IPv4 or IPv6 address (IPv6 in brackets), not a name: binding never depends on DNS.
#pragma once
#include <cstdint>
#include <string>

namespace ftdr::framework {

struct ListenAddress {
  std::string host;
  std::uint16_t port = 0;  // 0 = the system picks a free port
};

// Throws sdk::Error(invalid_request) whose message is what was expected and what was given:
// "HOST:PORT with an IP address and a port in [0, 65535] (got 'localhost:80')".
ListenAddress parse_listen_address(const std::string& text);

}  // namespace ftdr::framework
