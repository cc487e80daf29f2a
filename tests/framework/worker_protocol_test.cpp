// The worker protocol's frames and messages (framework/workers/): frames split anywhere decode to
// the same messages; an oversize, non-JSON, non-object or untyped frame is refused with the byte
// offset and what was wrong, and the decoder stays refused; a JobResult survives the trip; a peer of
// another major version is named with both versions.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "ftdr/framework/workers/frame_codec.hpp"
#include "ftdr/framework/workers/worker_protocol.hpp"

namespace ftdr::framework {
namespace {

using nlohmann::json;
using testing::HasSubstr;

std::string refusal(const std::string& bytes) {
  FrameDecoder d;
  d.feed(bytes.data(), bytes.size());
  try {
    while (d.next()) {
    }
  } catch (const FrameError& e) {
    EXPECT_EQ(e.kind(), sdk::ErrorKind::invalid_request);
    EXPECT_THROW(d.next(), FrameError);  // and stays refused
    return e.what();
  }
  return "";
}

TEST(WorkerFrames, MessagesSurviveAnySplitOfTheStream) {
  const std::vector<json> sent{
      {{"type", "hello"}, {"protocol", protocol_version_json()}, {"pid", 7}},
      {{"type", "progress"}, {"job", 18446744073709551615ull}, {"step", 3}, {"total", 9}},
      {{"type", "heartbeat"}}};
  std::string stream;
  for (const auto& m : sent) stream += encode_frame(m);
  EXPECT_EQ(stream.substr(0, 4), std::string("\0\0\0", 3) + static_cast<char>(sent[0].dump().size()));
  for (std::size_t chunk : {std::size_t{1}, std::size_t{3}, std::size_t{5}, stream.size()}) {
    FrameDecoder d;
    std::vector<json> got;
    for (std::size_t at = 0; at < stream.size(); at += chunk) {
      d.feed(stream.data() + at, std::min(chunk, stream.size() - at));
      while (auto m = d.next()) got.push_back(*m);
    }
    EXPECT_EQ(got, sent) << "chunks of " << chunk;
    EXPECT_EQ(d.buffered(), 0u);
  }
}

TEST(WorkerFrames, BadFramesAreRefusedSayingWhereAndWhat) {
  const std::string ok = encode_frame({{"type", "heartbeat"}});
  EXPECT_EQ(refusal(ok + "\xff\xff\xff\xff"),
            "worker protocol: the frame at byte 24 announces 4294967295 bytes, over the 16777216-byte limit");
  EXPECT_EQ(refusal(std::string("\0\0\0\3{x}", 7)), "worker protocol: the frame at byte 0 is not JSON");
  EXPECT_EQ(refusal(std::string("\0\0\0\2[]", 6)),
            "worker protocol: the frame at byte 0 is not a JSON object");
  EXPECT_EQ(refusal(std::string("\0\0\0\x0a{\"type\":1}", 14)),
            "worker protocol: the frame at byte 0 has no string \"type\"");
  EXPECT_EQ(refusal(ok + ok), "");  // two good frames
  FrameDecoder partial;             // a frame not complete yet is no error
  partial.feed(ok.data(), ok.size() - 1);
  EXPECT_FALSE(partial.next());
  EXPECT_THROW(encode_frame({{"type", "x"}, {"blob", std::string(kMaxFrameBytes, 'a')}}), FrameError);
}

TEST(WorkerMessages, AJobResultSurvivesTheTrip) {
  JobResult r;
  r.state = ExecutionState::failed;
  r.written_paths = {"/out/job-3/image-0.png"};
  r.error_kind = sdk::ErrorKind::device_error;
  r.error_message = "lost";
  r.degraded = true;
  sdk::Attempt a;
  a.number = 1;
  a.failure = {sdk::ErrorKind::out_of_memory, sdk::Phase::decoding, 20, "oom"};
  a.change = "VAE tiling";
  a.delay_ms = 200;
  r.attempts = {a};
  PhaseRecord p;
  p.phase = sdk::Phase::diffusion;
  p.ms = 12.5;
  p.after.peak_bytes = 1 << 20;
  r.metrics.phases = {p};
  r.metrics.wait_ms = 3;
  r.metrics.run_ms = 40;
  r.metrics.checkpoints = {"/state/jobs/9/latents_i0_step2.ckpt"};
  const json j = job_result_json(r);
  const JobResult back = job_result_from_json(json::parse(j.dump()));
  EXPECT_EQ(job_result_json(back), j);
  EXPECT_EQ(back.attempts[0].failure.phase, sdk::Phase::decoding);
  EXPECT_EQ(back.metrics.phases[0].after.peak_bytes, 1u << 20);

  json bad = j;
  bad["attempts"][0]["kind"] = "melted";
  EXPECT_THAT([&] { job_result_from_json(bad); },
              testing::ThrowsMessage<FrameError>(HasSubstr("unknown error kind 'melted'")));
  bad = j;
  bad["metrics"].erase("run_ms");
  EXPECT_THAT([&] { job_result_from_json(bad); },
              testing::ThrowsMessage<FrameError>(HasSubstr("field \"run_ms\" is missing")));
  bad = j;
  bad["state"] = "DECODING";
  EXPECT_THROW(job_result_from_json(bad), FrameError);  // a result is final
  EXPECT_THROW(job_result_from_json(json(5)), FrameError);
}

TEST(WorkerMessages, AnotherMajorVersionIsNamed) {
  EXPECT_EQ(protocol_mismatch({{"protocol", {kProtocolMajor, kProtocolMinor + 7}}}, "worker"), std::nullopt);
  const std::string ours = std::to_string(kProtocolMajor) + "." + std::to_string(kProtocolMinor);
  EXPECT_EQ(protocol_mismatch({{"protocol", {kProtocolMajor + 1, 2}}}, "server"),
            "the server speaks worker protocol " + std::to_string(kProtocolMajor + 1) + ".2, this side " +
                ours + " (another major version: run the same ftdr build on both sides)");
  EXPECT_EQ(protocol_mismatch({{"type", "hello"}}, "worker"),
            "the worker sent no protocol version [major, minor] (this side speaks " + ours + ")");
}

}  // namespace
}  // namespace ftdr::framework
