#include "redis_settings.hpp"

#include <cctype>
#include <cstdlib>

#include "ftdr/sdk/error.hpp"
#include "tls_context.hpp"

namespace ftdr::plugins::redis {
namespace {

constexpr const char* kUrlForm = "redis[s]://[[user]:password@]host[:port][/db]";

[[noreturn]] void bad_url(const std::string& where, const std::string& what) {
  throw sdk::Error(sdk::ErrorKind::invalid_request, where + ": " + what);
}

// The URL as messages may show it: whatever precedes '@' (user and password) becomes "***".
std::string redacted(const std::string& url) {
  const auto scheme = url.find("://");
  const auto at = url.rfind('@');
  if (scheme == std::string::npos || at == std::string::npos || at < scheme) return url;
  return url.substr(0, scheme + 3) + "***" + url.substr(at);
}

std::string percent_decoded(const std::string& text, const std::string& where) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    if (i + 2 >= text.size() || !std::isxdigit(static_cast<unsigned char>(text[i + 1])) ||
        !std::isxdigit(static_cast<unsigned char>(text[i + 2])))
      bad_url(where, "a '%' in the user or password must start a %XX escape");
    out += static_cast<char>(std::stoi(text.substr(i + 1, 2), nullptr, 16));
    i += 2;
  }
  return out;
}

// Digits only, within [lo, hi]; nothing otherwise.
std::optional<int> small_number(const std::string& text, int lo, int hi) {
  if (text.empty() || text.size() > 9) return std::nullopt;
  for (char c : text)
    if (!std::isdigit(static_cast<unsigned char>(c))) return std::nullopt;
  const int v = std::stoi(text);
  if (v < lo || v > hi) return std::nullopt;
  return v;
}

void parse_host_port(const std::string& text, const std::string& url, const std::string& where,
                     RedisAddress& a) {
  std::string port;
  if (!text.empty() && text[0] == '[') {  // [IPv6]:port
    const auto close = text.find(']');
    if (close == std::string::npos) bad_url(where, "an IPv6 host needs its closing ']' in " + redacted(url));
    a.host = text.substr(1, close - 1);
    if (close + 1 < text.size()) {
      if (text[close + 1] != ':') bad_url(where, "expected ':port' after ']' in " + redacted(url));
      port = text.substr(close + 2);
    }
  } else {
    const auto colon = text.rfind(':');
    a.host = text.substr(0, colon);
    if (colon != std::string::npos) port = text.substr(colon + 1);
  }
  if (a.host.empty()) bad_url(where, "expected a host in " + redacted(url) + " (" + kUrlForm + ")");
  if (!port.empty() || text.find(':') != std::string::npos) {
    const auto p = small_number(port, 1, 65535);
    if (!p) bad_url(where, "expected a port 1..65535 in " + redacted(url));
    a.port = *p;
  }
}

}  // namespace

std::string RedisAddress::display() const {
  const bool v6 = host.find(':') != std::string::npos;
  return std::string(tls ? "rediss://" : "redis://") + (v6 ? "[" + host + "]" : host) + ":" +
         std::to_string(port) + "/" + std::to_string(db);
}

RedisAddress parse_redis_url(const std::string& url, const std::string& where) {
  RedisAddress a;
  a.tls = url.rfind("rediss://", 0) == 0;
  const std::string scheme = a.tls ? "rediss://" : "redis://";
  if (url.rfind(scheme, 0) != 0)
    bad_url(where, std::string("expected ") + kUrlForm + ", got " + redacted(url));
  std::string rest = url.substr(scheme.size());
  const auto at = rest.rfind('@');
  if (at != std::string::npos) {
    const std::string userinfo = rest.substr(0, at);
    const auto colon = userinfo.find(':');
    if (colon == std::string::npos) {
      a.password = percent_decoded(userinfo, where);  // redis://secret@host: the password alone
    } else {
      a.user = percent_decoded(userinfo.substr(0, colon), where);
      a.password = percent_decoded(userinfo.substr(colon + 1), where);
    }
    rest = rest.substr(at + 1);
  }
  const auto slash = rest.find('/');
  parse_host_port(rest.substr(0, slash), url, where, a);
  if (slash != std::string::npos && slash + 1 < rest.size()) {
    const auto db = small_number(rest.substr(slash + 1), 0, 100000);
    if (!db) bad_url(where, "expected a database number after '/' in " + redacted(url));
    a.db = *db;
  }
  a.source = where;
  return a;
}

EnvLookup process_env() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (!v) return std::nullopt;
    return std::string(v);
  };
}

namespace {

std::int64_t int_in(const sdk::ConfigView& c, const std::string& key, std::int64_t fallback, std::int64_t lo,
                    std::int64_t hi, const std::string& expected) {
  const std::int64_t v = c.get_int(key, fallback);
  if (v < lo || v > hi) c.reject(key, expected + ", got " + std::to_string(v));
  return v;
}

RedisAddress read_address(const sdk::ConfigView& c, const EnvLookup& env) {
  RedisAddress a;
  if (c.has("url")) {
    a = parse_redis_url(c.get_string("url", ""), c.where("url"));
  } else if (auto from_env = env("FTDR_REDIS_URL")) {
    a = parse_redis_url(*from_env, "environment variable FTDR_REDIS_URL");
  } else {
    a = parse_redis_url("redis://127.0.0.1:6379/0", "[queue.redis] url (default)");
  }
  if (c.has("password") && c.has("password_env"))
    c.reject("password_env", "either password or password_env, not both");
  if (c.has("password")) {
    a.password = c.get_string("password", "");
  } else if (c.has("password_env")) {
    const std::string name = c.get_string("password_env", "");
    if (name.empty()) c.reject("password_env", "the name of an environment variable");
    const auto value = env(name);
    if (!value)
      c.reject("password_env", "the name of a set environment variable ('" + name + "' is not set)");
    a.password = *value;
  } else if (a.password.empty()) {
    if (auto value = env("FTDR_REDIS_PASSWORD")) a.password = *value;
  }
  return a;
}

// One TLS file: the config key, else the environment variable, else "" (with where it came from).
void tls_file(const sdk::ConfigView& c, const EnvLookup& env, const char* key, const char* variable,
              std::string& file, std::string& where) {
  if (c.has(key)) {
    file = c.get_string(key, "");
    where = "[queue.redis] " + std::string(key);
    if (file.empty()) c.reject(key, "the path of a PEM file");
  } else if (auto value = env(variable); value && !value->empty()) {
    file = *value;
    where = "environment variable " + std::string(variable);
  }
}

// TLS is on for a rediss:// URL or tls = true; its files are loaded here, so a bad one fails create().
std::shared_ptr<const TlsContext> read_tls(const sdk::ConfigView& c, const EnvLookup& env, RedisAddress& a) {
  if (c.has("tls")) {
    const bool on = c.get_bool("tls", false);
    if (!on && a.tls) c.reject("tls", "true or left out: the url is rediss://, which always uses TLS");
    a.tls = on;
  }
  if (!a.tls) {
    for (const char* key : {"tls_ca_file", "tls_cert_file", "tls_key_file"})
      if (c.has(key)) c.reject(key, "a rediss:// url or tls = true with it (this connection is plain TCP)");
    return nullptr;
  }
  TlsFiles f;
  tls_file(c, env, "tls_ca_file", "FTDR_REDIS_TLS_CA_FILE", f.ca_file, f.ca_where);
  tls_file(c, env, "tls_cert_file", "FTDR_REDIS_TLS_CERT_FILE", f.cert_file, f.cert_where);
  tls_file(c, env, "tls_key_file", "FTDR_REDIS_TLS_KEY_FILE", f.key_file, f.key_where);
  if (f.cert_file.empty() != f.key_file.empty())
    c.reject(f.cert_file.empty() ? "tls_cert_file" : "tls_key_file",
             "tls_cert_file and tls_key_file together (a client certificate and its key), or neither");
  return std::make_shared<const TlsContext>(f);
}

}  // namespace

RedisSettings read_redis_settings(const sdk::ConfigView& c, const EnvLookup& env) {
  RedisSettings s;
  s.address = read_address(c, env);
  s.tls = read_tls(c, env, s.address);
  s.prefix = c.get_string("prefix", s.prefix);
  if (s.prefix.empty()) c.reject("prefix", "a non-empty key prefix such as \"ftdr\"");
  for (char ch : s.prefix)
    if (std::isspace(static_cast<unsigned char>(ch))) c.reject("prefix", "a key prefix without spaces");
  constexpr std::int64_t kDay = 24ll * 3600 * 1000;
  s.lease_ms = int_in(c, "lease_ms", s.lease_ms, 1, kDay, "a lease in milliseconds, 1..86400000");
  s.aging_ms =
      int_in(c, "aging_ms", s.aging_ms, 0, kDay * 365, "a duration in milliseconds >= 0 (0 = no aging)");
  s.blob_max_bytes = int_in(c, "blob_max_bytes", s.blob_max_bytes, 1, kRedisMaxBulkBytes,
                            "a size in bytes, 1..536870912 (Redis' largest value)");
  s.connect_timeout_ms = int_in(c, "connect_timeout_ms", s.connect_timeout_ms, 1, 600000,
                                "a timeout in milliseconds, 1..600000");
  s.command_timeout_ms = int_in(c, "command_timeout_ms", s.command_timeout_ms, 1, 600000,
                                "a timeout in milliseconds, 1..600000");
  s.reconnect_max_ms = int_in(c, "reconnect_max_ms", s.reconnect_max_ms, 0, kDay,
                              "a retry budget in milliseconds, 0..86400000 (0 = no retry)");
  return s;
}

}  // namespace ftdr::plugins::redis
