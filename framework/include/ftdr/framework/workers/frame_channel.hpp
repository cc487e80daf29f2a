// ftdr/framework/workers/frame_channel.hpp: one end of a worker connection: an Asio local (unix)
// stream socket carrying frames (frame_codec.hpp), with blocking calls for a thread per connection.
//
//   FrameChannel channel = FrameChannel::connect("/run/ftdr/workers.sock");   // throws sdk::Error
//   channel.send({{"type", "heartbeat"}});          // any thread; sends are serialised
//   while (auto message = channel.receive()) ...    // one reader thread; nothing at end of stream
//   channel.close();                                // any thread: a blocked receive() returns
//
// receive() throws FrameError for an oversize or garbled frame; the caller logs it and closes.
#pragma once
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <nlohmann/json.hpp>

#include "ftdr/framework/workers/frame_codec.hpp"

namespace ftdr::framework {

class FrameChannel {
 public:
  using Socket = boost::asio::local::stream_protocol::socket;

  // Takes over a connected socket (the server's accept()).
  FrameChannel(std::shared_ptr<boost::asio::io_context> io, Socket socket);
  // Connects to the socket file. Throws sdk::Error(invalid_request) naming the path and the reason.
  static std::unique_ptr<FrameChannel> connect(const std::string& path);

  // False when the connection is closed or broken (the message is then lost).
  bool send(const nlohmann::json& message);
  // The next message; nothing when the peer closed the connection or close() was called.
  std::optional<nlohmann::json> receive();
  // Shuts the socket down both ways: the peer sees the end of the stream, a blocked receive() returns.
  void close();

 private:
  std::shared_ptr<boost::asio::io_context> io_;  // the socket's; no run(): every call is blocking
  Socket socket_;
  std::mutex send_mutex_;
  FrameDecoder decoder_;
};

}  // namespace ftdr::framework
