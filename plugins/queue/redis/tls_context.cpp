#include "tls_context.hpp"

#include <openssl/err.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "ftdr/sdk/error.hpp"

namespace ftdr::plugins::redis {
namespace {

[[noreturn]] void bad_file(const std::string& where, const std::string& file, const std::string& why) {
  throw sdk::Error(sdk::ErrorKind::invalid_request, "redis queue: " + where + " = \"" + file + "\": " + why);
}

// OpenSSL's own messages for a missing file are vague ("system lib"); say it plainly first.
void require_readable(const std::string& where, const std::string& file) {
  std::ifstream in(file);
  if (!in) bad_file(where, file, std::string("cannot read it (") + std::strerror(errno) + ")");
}

// The client certificate callback runs only when the server asked for one and none is configured.
int note_request(SSL* ssl, X509** /*cert*/, EVP_PKEY** /*key*/) {
  if (auto* flag = static_cast<bool*>(SSL_get_app_data(ssl))) *flag = true;
  return 0;  // go on without one: a server with tls-auth-clients optional accepts that
}

}  // namespace

std::string openssl_error(const std::string& fallback) {
  unsigned long last = 0;
  while (unsigned long e = ERR_get_error()) last = e;  // the last one is the most specific
  if (last == 0) return fallback;
  const char* reason = ERR_reason_error_string(last);
  return reason ? reason : fallback;
}

void watch_certificate_requests(SSL* ssl, bool* flag) { SSL_set_app_data(ssl, flag); }

const char* TlsContext::client_certificate_keys() {
  return "[queue.redis] tls_cert_file and tls_key_file (or FTDR_REDIS_TLS_CERT_FILE and "
         "FTDR_REDIS_TLS_KEY_FILE)";
}

TlsContext::TlsContext(const TlsFiles& f) : ctx_(SSL_CTX_new(TLS_client_method())) {
  if (!ctx_)
    throw sdk::Error(sdk::ErrorKind::internal, "redis queue: " + openssl_error("SSL_CTX_new failed"));
  SSL_CTX* c = ctx_.get();
  SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
  SSL_CTX_set_verify(c, SSL_VERIFY_PEER, nullptr);
  // The bridge writes from a buffer that may shrink between retries of a partial write.
  SSL_CTX_set_mode(c, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  SSL_CTX_set_client_cert_cb(c, note_request);
  ERR_clear_error();
  if (f.ca_file.empty()) {
    if (SSL_CTX_set_default_verify_paths(c) != 1)
      throw sdk::Error(sdk::ErrorKind::invalid_request,
                       "redis queue: cannot load the system's CA store: " + openssl_error("unknown error"));
    trust_ = "the system's CA store (set [queue.redis] tls_ca_file for a private CA)";
  } else {
    require_readable(f.ca_where, f.ca_file);
    if (SSL_CTX_load_verify_locations(c, f.ca_file.c_str(), nullptr) != 1)
      bad_file(f.ca_where, f.ca_file, "expected PEM CA certificates: " + openssl_error("none found"));
    trust_ = f.ca_where + " = \"" + f.ca_file + "\"";
  }
  if (f.cert_file.empty()) return;
  require_readable(f.cert_where, f.cert_file);
  require_readable(f.key_where, f.key_file);
  if (SSL_CTX_use_certificate_chain_file(c, f.cert_file.c_str()) != 1)
    bad_file(f.cert_where, f.cert_file, "expected a PEM certificate: " + openssl_error("none found"));
  // OpenSSL checks here too that the key is the certificate's ("key values mismatch").
  const std::string key_of =
      "expected the PEM private key of " + f.cert_where + " = \"" + f.cert_file + "\": ";
  if (SSL_CTX_use_PrivateKey_file(c, f.key_file.c_str(), SSL_FILETYPE_PEM) != 1)
    bad_file(f.key_where, f.key_file, key_of + openssl_error("none found"));
  if (SSL_CTX_check_private_key(c) != 1)
    bad_file(f.key_where, f.key_file, key_of + openssl_error("key values mismatch"));
  has_client_certificate_ = true;
}

}  // namespace ftdr::plugins::redis
