// tests/common/tls_certs.hpp: certificates for a TLS test server, made at test time with the openssl
// CLI (Debian package openssl) into a folder: a CA, a server certificate it signed for 127.0.0.1 and
// localhost, a client certificate it signed, and an unrelated CA (to fail verification with).
// server_for_other_host: the server certificate names other.example only (to fail the host check).
//
//   TlsCerts certs(dir / "tls");
//   certs.ca(); certs.server_cert(); certs.server_key(); certs.client_cert(); certs.other_ca();
#pragma once
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>

namespace ftdr::test {

class TlsCerts {
 public:
  explicit TlsCerts(std::filesystem::path dir, bool server_for_other_host = false) : dir_(std::move(dir)) {
    std::filesystem::create_directories(dir_);
    make_ca("ca", "ftdr-test-ca");
    make_ca("other-ca", "ftdr-unrelated-ca");
    if (server_for_other_host)
      make_signed("server", "other.example", "subjectAltName=DNS:other.example");
    else
      make_signed("server", "localhost", "subjectAltName=DNS:localhost,IP:127.0.0.1");
    make_signed("client", "ftdr-test-client", "extendedKeyUsage=clientAuth");
  }

  std::filesystem::path ca() const { return dir_ / "ca.pem"; }
  std::filesystem::path other_ca() const { return dir_ / "other-ca.pem"; }
  std::filesystem::path server_cert() const { return dir_ / "server.pem"; }
  std::filesystem::path server_key() const { return dir_ / "server.key"; }
  std::filesystem::path client_cert() const { return dir_ / "client.pem"; }
  std::filesystem::path client_key() const { return dir_ / "client.key"; }

 private:
  static constexpr const char* kKey = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";

  void run(const std::string& args) const {
    const std::string cmd = "cd '" + dir_.string() + "' && openssl " + args + " >>openssl.log 2>&1";
    if (std::system(cmd.c_str()) != 0)
      throw std::runtime_error("tls fixture: `openssl " + args + "` failed (see " + dir_.string() +
                               "/openssl.log)");
  }
  void make_ca(const std::string& name, const std::string& cn) const {
    run("req -x509 " + std::string(kKey) + " -keyout " + name + ".key -out " + name +
        ".pem -days 2 -subj /CN=" + cn);
  }
  void make_signed(const std::string& name, const std::string& cn, const std::string& extension) const {
    run("req " + std::string(kKey) + " -keyout " + name + ".key -out " + name + ".csr -subj /CN=" + cn);
    std::ofstream(dir_ / (name + ".ext")) << extension << "\n";
    run("x509 -req -in " + name + ".csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -out " + name +
        ".pem -extfile " + name + ".ext");
  }

  std::filesystem::path dir_;
};

}  // namespace ftdr::test
