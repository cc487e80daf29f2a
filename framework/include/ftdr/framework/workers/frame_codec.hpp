// ftdr/framework/workers/frame_codec.hpp: the framing of the worker protocol (worker_protocol.hpp):
// each message is one frame, a 4-byte big-endian payload length followed by that many bytes of
// UTF-8 JSON, an object with a string "type".
//
//   std::string bytes = encode_frame({{"type", "heartbeat"}});
//   FrameDecoder decoder;
//   decoder.feed(data, size);                       // any split of the byte stream
//   while (auto message = decoder.next()) handle(*message);   // throws FrameError on bad input
//
// A frame longer than kMaxFrameBytes, a payload that is not JSON, not an object or has no string
// "type" throws FrameError; the peer is then closed (the stream cannot be re-synchronised). Input
// from a socket is untrusted: the decoder never allocates more than one frame's worth beyond what
// it was fed, and never asserts (fuzz/worker_frame_fuzzer.cpp).
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "ftdr/sdk/error.hpp"

namespace ftdr::framework {

inline constexpr std::uint32_t kMaxFrameBytes = 16u << 20;  // a result with its attempt history is a few KiB

// A frame the decoder refuses (kind invalid_request): the message says what and at which byte.
class FrameError : public sdk::Error {
 public:
  explicit FrameError(const std::string& message);
};

// Throws FrameError when the encoded message would exceed kMaxFrameBytes.
std::string encode_frame(const nlohmann::json& message);

class FrameDecoder {
 public:
  void feed(const char* data, std::size_t size);
  // The next complete message, or nothing until more bytes arrive. Throws FrameError; after that
  // the decoder is unusable (every call throws the same error).
  std::optional<nlohmann::json> next();
  std::size_t buffered() const { return buffer_.size() - start_; }

 private:
  std::string buffer_;
  std::size_t start_ = 0;       // the first unread byte
  std::uint64_t consumed_ = 0;  // bytes of whole frames read so far (for the error's offset)
  std::string failure_;
};

}  // namespace ftdr::framework
