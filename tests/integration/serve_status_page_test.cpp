// The status page of `ftdr serve` (GET /) on the real binary (test_backend fixture): the embedded
// HTML is served without the token (it holds no data) while the API it polls still needs it, it
// names no external URL (no CDN: it works offline), and /metrics carries the memory it charts.
// The page in a real browser: tests/integration/clients/status_page_chromium.py.
#include <gtest/gtest.h>

#include <regex>

#include "integration/serve_process.hpp"

namespace ftdr::test {
namespace {

TEST(ServeStatusPage, IsTheEmbeddedHtmlWithoutExternalUrls) {
  ServeProcess server(fresh_dir("serve_page"));
  const HttpReply page = http(server.port(), "GET", "/");
  ASSERT_EQ(page.status, 200);
  EXPECT_EQ(page.headers.at("content-type"), "text/html; charset=utf-8");
  EXPECT_EQ(page.body.rfind("<!DOCTYPE html>", 0), 0u) << page.body.substr(0, 80);
  EXPECT_NE(page.body.find("<form id=\"submit-form\""), std::string::npos);
  EXPECT_NE(page.body.find("</html>"), std::string::npos);
  // Every URL in it is a path on this server: no scheme, no protocol-relative "//host".
  const std::regex external(R"((https?:|ftp:)?//[A-Za-z0-9.-]+\.[A-Za-z]{2,}|(src|href)=["']//)",
                            std::regex::icase);
  std::smatch found;
  EXPECT_FALSE(std::regex_search(page.body, found, external)) << "external URL in the page: " << found.str();
  EXPECT_EQ(http(server.port(), "POST", "/").status, 405);
  EXPECT_EQ(server.stop(), 0);
}

TEST(ServeStatusPage, IsServedWithoutTheTokenButItsDataIsNot) {
  ServeOptions o;
  o.token = "s3cret";
  ServeProcess server(fresh_dir("serve_page_token"), o);
  const HttpReply page = http(server.port(), "GET", "/");
  EXPECT_EQ(page.status, 200);
  EXPECT_NE(page.body.find("sessionStorage"), std::string::npos);
  for (const char* path : {"/v1/jobs", "/metrics", "/v1/samplers"})
    EXPECT_EQ(http(server.port(), "GET", path).status, 401) << path;
  EXPECT_EQ(http(server.port(), "GET", "/v1/jobs", "", {"Authorization: Bearer s3cret"}).status, 200);
  EXPECT_EQ(server.stop(), 0);
}

TEST(ServeStatusPage, MetricsCarryTheHostMemoryItCharts) {
  ServeProcess server(fresh_dir("serve_page_memory"));
  const std::string metrics = http(server.port(), "GET", "/metrics").body;
  const std::regex line(R"(\nftdr_host_resident_bytes (\d+)\n)");
  std::smatch m;
  ASSERT_TRUE(std::regex_search(metrics, m, line)) << metrics;
  // A running server holds at least a megabyte and (on this test backend) less than 4 GiB.
  EXPECT_GT(std::stoull(m[1]), 1u << 20);
  EXPECT_LT(std::stoull(m[1]), 4ull << 30);
  EXPECT_NE(metrics.find("# TYPE ftdr_host_resident_bytes gauge"), std::string::npos);
  EXPECT_EQ(server.stop(), 0);
}

}  // namespace
}  // namespace ftdr::test
