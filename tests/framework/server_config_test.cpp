// [server] (what `ftdr serve` listens on and its limits) and "HOST:PORT": defaults, paths, and
// errors that name the key and say what was expected.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "ftdr/framework/config/config.hpp"
#include "ftdr/framework/server/listen_address.hpp"

namespace ftdr::framework {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

const fs::path kFile = "/etc/ftdr/serve.toml";

std::vector<std::string> problems_of(const std::string& text) {
  try {
    Config::parse(text, kFile);
  } catch (const ConfigError& e) {
    return e.problems();
  }
  return {};
}

TEST(ServerConfig, DefaultsListenOnLoopback) {
  const ServerConfig s = Config::parse("", kFile).host().server;
  EXPECT_EQ(s.listen, "127.0.0.1:7860");
  EXPECT_EQ(s.max_body_bytes, 1u << 20);
  EXPECT_EQ(s.request_timeout_s, 30);
  EXPECT_TRUE(s.token_file.empty());
  EXPECT_EQ(s.keep_finished, 1000);
}

TEST(ServerConfig, ValuesAndTokenFileRelativeToTheConfig) {
  const ServerConfig s = Config::parse(
                             "[server]\nlisten = \"[::1]:0\"\nmax_body_bytes = 4096\nrequest_timeout_s = 5\n"
                             "token_file = \"secrets/token\"\nkeep_finished = 3\n",
                             kFile)
                             .host()
                             .server;
  EXPECT_EQ(s.listen, "[::1]:0");
  EXPECT_EQ(s.max_body_bytes, 4096u);
  EXPECT_EQ(s.request_timeout_s, 5);
  EXPECT_EQ(s.token_file, fs::path("/etc/ftdr/secrets/token"));
  EXPECT_EQ(s.keep_finished, 3);
}

TEST(ServerConfig, EveryBadKeyIsReportedByName) {
  const auto problems = problems_of(
      "[server]\nlisten = \"localhost:80\"\nmax_body_bytes = \"1M\"\nrequest_timeout_s = 0\ntoken_file = "
      "\"\"\n"
      "keep_finished = -1\nlisten_port = 80\n");
  ASSERT_EQ(problems.size(), 6u) << ::testing::PrintToString(problems);
  EXPECT_THAT(problems[0],
              HasSubstr("/etc/ftdr/serve.toml:2:10: key 'server.listen': expected HOST:PORT with an IP "
                        "address and a port in [0, 65535] (got 'localhost:80')"));
  EXPECT_THAT(problems[1], HasSubstr("key 'server.max_body_bytes': expected an integer (got a string)"));
  EXPECT_THAT(problems[2],
              HasSubstr("key 'server.request_timeout_s': expected an integer in [1, 3600] (got 0)"));
  EXPECT_THAT(problems[3], HasSubstr("key 'server.token_file': expected a file path (got an empty string)"));
  EXPECT_THAT(problems[4],
              HasSubstr("key 'server.keep_finished': expected an integer in [1, 10000000] (got -1)"));
  EXPECT_THAT(problems[5], HasSubstr("unknown key 'server.listen_port'"));
}

TEST(ListenAddress, ParsesIpv4Ipv6AndPortZero) {
  const ListenAddress v4 = parse_listen_address("0.0.0.0:8080");
  EXPECT_EQ(v4.host, "0.0.0.0");
  EXPECT_EQ(v4.port, 8080);
  const ListenAddress v6 = parse_listen_address("[::1]:0");
  EXPECT_EQ(v6.host, "::1");
  EXPECT_EQ(v6.port, 0);
  for (const char* bad : {"", "127.0.0.1", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:-1", "host:80", ":80",
                          "127.0.0.1:8o", "[::1]:999999"})
    EXPECT_THROW(parse_listen_address(bad), sdk::Error) << bad;
}

}  // namespace
}  // namespace ftdr::framework
