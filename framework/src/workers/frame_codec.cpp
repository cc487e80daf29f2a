// The worker protocol's frames (see frame_codec.hpp).
#include "ftdr/framework/workers/frame_codec.hpp"

namespace ftdr::framework {

FrameError::FrameError(const std::string& message)
    : sdk::Error(sdk::ErrorKind::invalid_request, "worker protocol: " + message) {}

std::string encode_frame(const nlohmann::json& message) {
  const std::string payload = message.dump();
  if (payload.size() > kMaxFrameBytes)
    throw FrameError("a message of " + std::to_string(payload.size()) + " bytes is over the " +
                     std::to_string(kMaxFrameBytes) + "-byte frame limit");
  const auto n = static_cast<std::uint32_t>(payload.size());
  std::string out;
  out.reserve(4 + payload.size());
  for (int shift : {24, 16, 8, 0}) out.push_back(static_cast<char>((n >> shift) & 0xff));
  return out + payload;
}

void FrameDecoder::feed(const char* data, std::size_t size) {
  if (start_ > 0 && start_ == buffer_.size()) {
    buffer_.clear();
    start_ = 0;
  }
  buffer_.append(data, size);
}

std::optional<nlohmann::json> FrameDecoder::next() {
  if (!failure_.empty()) throw FrameError(failure_);
  if (buffered() < 4) return std::nullopt;
  std::uint32_t n = 0;
  for (std::size_t i = 0; i < 4; ++i) n = (n << 8) | static_cast<unsigned char>(buffer_[start_ + i]);
  const std::string at = "the frame at byte " + std::to_string(consumed_);
  if (n > kMaxFrameBytes) {
    failure_ = at + " announces " + std::to_string(n) + " bytes, over the " + std::to_string(kMaxFrameBytes) +
               "-byte limit";
    throw FrameError(failure_);
  }
  if (buffered() < 4 + std::size_t{n}) return std::nullopt;
  const std::string payload = buffer_.substr(start_ + 4, n);
  start_ += 4 + std::size_t{n};
  consumed_ += 4 + std::uint64_t{n};
  if (start_ > (1u << 20) && start_ * 2 > buffer_.size()) {  // drop what was read, now and then
    buffer_.erase(0, start_);
    start_ = 0;
  }
  nlohmann::json message = nlohmann::json::parse(payload, nullptr, /*allow_exceptions=*/false);
  if (message.is_discarded())
    failure_ = at + " is not JSON";
  else if (!message.is_object())
    failure_ = at + " is not a JSON object";
  else if (!message.contains("type") || !message["type"].is_string())
    failure_ = at + " has no string \"type\"";
  if (!failure_.empty()) throw FrameError(failure_);
  return message;
}

}  // namespace ftdr::framework
