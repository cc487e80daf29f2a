// A worker connection (see frame_channel.hpp).
#include "ftdr/framework/workers/frame_channel.hpp"

#include <sys/socket.h>

#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

namespace ftdr::framework {

namespace asio = boost::asio;
using Protocol = asio::local::stream_protocol;

FrameChannel::FrameChannel(std::shared_ptr<asio::io_context> io, Socket socket)
    : io_(std::move(io)), socket_(std::move(socket)) {}

std::unique_ptr<FrameChannel> FrameChannel::connect(const std::string& path) {
  auto io = std::make_shared<asio::io_context>();
  Socket socket(*io);
  boost::system::error_code ec;
  socket.connect(Protocol::endpoint(path), ec);
  if (ec)
    throw sdk::Error(sdk::ErrorKind::invalid_request,
                     "cannot connect to the worker socket '" + path + "': " + ec.message());
  return std::make_unique<FrameChannel>(std::move(io), std::move(socket));
}

bool FrameChannel::send(const nlohmann::json& message) {
  const std::string bytes = encode_frame(message);
  std::lock_guard<std::mutex> lock(send_mutex_);
  boost::system::error_code ec;
  asio::write(socket_, asio::buffer(bytes), ec);
  return !ec;
}

std::optional<nlohmann::json> FrameChannel::receive() {
  char buffer[64 * 1024];
  for (;;) {
    if (auto message = decoder_.next()) return message;
    boost::system::error_code ec;
    const std::size_t n = socket_.read_some(asio::buffer(buffer), ec);
    if (ec) return std::nullopt;  // end of stream, or close() from another thread
    decoder_.feed(buffer, n);
  }
}

void FrameChannel::close() {
  // ::shutdown, not socket_.close(): closing a descriptor another thread is reading is a race; a
  // shutdown wakes that read with end-of-stream and the descriptor is closed with the channel.
  ::shutdown(socket_.native_handle(), SHUT_RDWR);
}

}  // namespace ftdr::framework
