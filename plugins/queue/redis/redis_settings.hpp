// redis_settings.hpp: the `redis` queue plugin's [queue.redis] table and its Redis address.
//
//   [queue.redis]
//   url = "redis://queue-host:6379/0"   # or env FTDR_REDIS_URL; default redis://127.0.0.1:6379/0
//   password_env = "FTDR_REDIS_PASSWORD" # or password = "...", or in the URL; never a CLI argument
//   prefix = "ftdr"                      # the key namespace: one queue per prefix
//   lease_ms = 30000                     # a runner that stops renewing for this long loses its job
//   tls_ca_file = "/etc/ftdr/redis-ca.pem" # rediss:// (or tls = true): the CA that signed Redis' cert
//   tls_cert_file = "client.pem"         # with tls_key_file: a client certificate (tls-auth-clients)
//
// Secrets: the password is read from the config or the environment only, and no message, log line
// or display() ever contains it.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "ftdr/sdk/config_view.hpp"

namespace ftdr::plugins::redis {

class TlsContext;

struct RedisAddress {
  std::string host = "127.0.0.1";
  int port = 6379;
  int db = 0;
  std::string user;      // Redis 6 ACL user; "" = the default user
  std::string password;  // "" = no AUTH
  std::string source;    // where the URL came from, for messages: "[queue.redis] url", "FTDR_REDIS_URL"
  bool tls = false;      // rediss://, or [queue.redis] tls = true

  // "redis://host:port/db" ("rediss://" with TLS): what messages name. Never the user or password.
  std::string display() const;
};

// Parses redis[s]://[[user]:password@]host[:port][/db] (IPv6 hosts in brackets, %XX escapes in the
// user and password); rediss:// sets tls. Errors name `where` and never echo a password.
RedisAddress parse_redis_url(const std::string& url, const std::string& where);

struct RedisSettings {
  RedisAddress address;
  std::string prefix = "ftdr";
  std::int64_t lease_ms = 30000;
  std::int64_t aging_ms = 0;  // 0 = no aging
  std::int64_t blob_max_bytes = 16ll * 1024 * 1024;
  std::int64_t connect_timeout_ms = 2000;   // one connection attempt (TCP, AUTH, SELECT, PING)
  std::int64_t command_timeout_ms = 10000;  // one command's reply; past it the connection counts as lost
  std::int64_t reconnect_max_ms = 30000;    // how long an operation retries a lost connection
  std::shared_ptr<const TlsContext> tls;    // set when address.tls: CA, client certificate
};

inline constexpr std::int64_t kRedisMaxBulkBytes = 512ll * 1024 * 1024;  // Redis' proto-max-bulk-len

// The environment, injectable for tests: the value of a variable, nothing when unset.
using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;
EnvLookup process_env();

// Reads and checks [queue.redis]; each bad value is refused naming its key and what was expected.
RedisSettings read_redis_settings(const sdk::ConfigView& config, const EnvLookup& env);

}  // namespace ftdr::plugins::redis
