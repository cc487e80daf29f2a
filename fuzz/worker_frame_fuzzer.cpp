// Fuzz target: the worker protocol's frame decoder and result reader
// (framework/src/workers/frame_codec.cpp, worker_protocol.cpp), which read what another process
// sends. The bytes are fed in two pieces (split at the first byte's value) as a socket may deliver
// them. Refused input is FrameError (invalid_request); every accepted message is a JSON object with a
// string "type", re-encodes to a frame that decodes to the same message, and a "result" message's
// result is read or refused with FrameError, never anything else.
#include <algorithm>

#include <nlohmann/json.hpp>

#include "ftdr/framework/workers/frame_codec.hpp"
#include "ftdr/framework/workers/worker_protocol.hpp"
#include "fuzz_target.hpp"

FTDR_FUZZ_TARGET(worker_frame) {
  const char* bytes = reinterpret_cast<const char*>(data);
  const std::size_t split = size == 0 ? 0 : std::min<std::size_t>(data[0], size);
  ftdr::framework::FrameDecoder decoder;
  decoder.feed(bytes, split);
  try {
    for (int pass = 0; pass < 2; ++pass) {
      while (auto message = decoder.next()) {
        FTDR_FUZZ_CHECK(message->is_object() && (*message)["type"].is_string(), message->dump());
        ftdr::framework::FrameDecoder again;
        const std::string frame = ftdr::framework::encode_frame(*message);
        again.feed(frame.data(), frame.size());
        FTDR_FUZZ_CHECK(again.next() == *message, message->dump());
        if ((*message)["type"] == "result" && message->contains("result")) {
          try {
            ftdr::framework::job_result_from_json((*message)["result"]);
          } catch (const ftdr::framework::FrameError&) {
          }
        }
      }
      if (pass == 0) decoder.feed(bytes + split, size - split);
    }
  } catch (const ftdr::framework::FrameError& e) {
    FTDR_FUZZ_CHECK(e.kind() == ftdr::sdk::ErrorKind::invalid_request, e.what());
  }
}
