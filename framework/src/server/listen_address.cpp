// "HOST:PORT" (see listen_address.hpp).
#include "ftdr/framework/server/listen_address.hpp"

#include <boost/asio/ip/address.hpp>

#include "ftdr/sdk/error.hpp"

namespace ftdr::framework {

ListenAddress parse_listen_address(const std::string& text) {
  const auto refuse = [&]() -> ListenAddress {
    throw sdk::Error(sdk::ErrorKind::invalid_request,
                     "HOST:PORT with an IP address and a port in [0, 65535] (got '" + text + "')");
  };
  const auto colon = text.rfind(':');
  if (colon == std::string::npos) return refuse();
  std::string host = text.substr(0, colon);
  const std::string port = text.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos)
    return refuse();
  const int number = std::stoi(port);
  if (number > 65535) return refuse();
  boost::system::error_code ec;
  boost::asio::ip::make_address(host, ec);
  if (ec) return refuse();
  return {host, static_cast<std::uint16_t>(number)};
}

}  // namespace ftdr::framework
