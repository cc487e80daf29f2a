// tls_context.hpp: the client side of TLS to Redis (OpenSSL 3, Debian's libssl-dev), for rediss://.
//
// Debian 12's hiredis 0.14 has no TLS of its own, so the plugin does the handshake itself
// (tls_bridge.hpp) with this context: the server's certificate is checked against tls_ca_file (or
// the system's CA store when unset) and its host name; an optional client certificate answers a
// Redis with `tls-auth-clients yes`. The files are loaded once, when the settings are read, so a bad
// file is refused at create() naming its key and path.
//
//   TlsFiles files{"/etc/ftdr/redis-ca.pem", "[queue.redis] tls_ca_file", "", "", "", ""};
//   auto tls = std::make_shared<const TlsContext>(files);  // throws sdk::Error(invalid_request)
#pragma once
#include <memory>
#include <string>

#include <openssl/ssl.h>

namespace ftdr::plugins::redis {

// Each file with where it came from ("[queue.redis] tls_ca_file", "environment variable ..."),
// for messages. "" = not set.
struct TlsFiles {
  std::string ca_file, ca_where;
  std::string cert_file, cert_where;
  std::string key_file, key_where;
};

class TlsContext {
 public:
  explicit TlsContext(const TlsFiles& files);

  SSL_CTX* get() const { return ctx_.get(); }
  // What the server's certificate is checked against, for messages.
  const std::string& trust() const { return trust_; }
  bool has_client_certificate() const { return has_client_certificate_; }
  // Where a client certificate would be configured, for messages.
  static const char* client_certificate_keys();

 private:
  struct CtxDeleter {
    void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
  };
  std::unique_ptr<SSL_CTX, CtxDeleter> ctx_;
  std::string trust_;
  bool has_client_certificate_ = false;
};

// OpenSSL's most recent error on this thread as text ("certificate verify failed"), or `fallback`.
std::string openssl_error(const std::string& fallback);

// Tells `flag` (a bool the SSL's app data points to) that the server asked for a client certificate
// and none was configured: a failure right after the handshake is then most likely that refusal.
void watch_certificate_requests(SSL* ssl, bool* flag);

}  // namespace ftdr::plugins::redis
