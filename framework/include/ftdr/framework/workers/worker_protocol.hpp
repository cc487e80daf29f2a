// ftdr/framework/workers/worker_protocol.hpp: what `ftdr serve` and its `ftdr worker` processes say
// to each other over a local (unix) stream socket, one JSON object per frame (frame_codec.hpp).
//
// Version: kProtocolMajor.kProtocolMinor. A new optional field or a new message a peer may ignore
// bumps the minor; anything else (a field renamed or made required, a changed meaning) bumps the
// major. Peers with different majors refuse each other; unknown fields and, within a major, unknown
// message types are ignored.
//
// Worker → server
//   hello      {"type":"hello","protocol":[1,1],"pid":123}
//              first frame after connecting; the server answers "welcome" or "refused"
//   ready      {"type":"ready","model":{ModelInfo},"samplers":["ddim",...],"plugins":[...]}
//              the model is loaded; jobs may be sent from now on (model_info_json below)
//   heartbeat  {"type":"heartbeat"}
//              every welcome.heartbeat_ms, from its own thread, also while a job runs
//   state      {"type":"state","job":ID,"state":"DIFFUSION_RUNNING"}
//              the job entered that ExecutionState (execution_state.hpp names)
//   progress   {"type":"progress","job":ID,"step":7,"total":20}
//   checkpoint {"type":"checkpoint","job":ID,"step":6,"path":"<state_dir>/jobs/ID/latents_i0_step6.ckpt"}
//              a latents checkpoint was written (the server resumes from the newest after a crash)
//   result     {"type":"result","job":ID,"result":{JobResult}}
//              the job ended: completed, failed or cancelled (result_json below; image paths, never
//              pixels: the PNGs are in the job's output folder, which the server chose)
//   error      {"type":"error","job":ID|null,"sticky":true,"phase":"diffusion","step":4,"message":"..."}
//              the worker cannot go on (a sticky device error: the device is unusable until the
//              process restarts); the job, if any, did not end; the worker exits after sending it
// Server → worker
//   welcome    {"type":"welcome","protocol":[1,1],"heartbeat_ms":500}
//   refused    {"type":"refused","message":"..."}   then the server closes the connection
//   run        {"type":"run","job":ID,"request":{GenerationRequest},"priority":"normal","job_dir":"..."}
//              run one job (one at a time); request.output_dir is the server's folder for it and
//              job_dir its checkpoint folder, whose newest checkpoint the worker resumes from
//   cancel     {"type":"cancel","job":ID,"for_restart":true}   stop the job at its next step boundary;
//              for_restart (1.1, optional, default false): a "cancel" shutdown stops it to run again
//              at the next start, so the worker keeps its checkpoints (a client's cancel drops them)
//   stop       {"type":"stop"}              finish nothing more, exit 0
//
// IDs are the server's job ids (unsigned 64-bit), not the worker's own JobManager's.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ftdr/framework/jobs/job.hpp"
#include "ftdr/sdk/backend.hpp"

namespace ftdr::framework {

inline constexpr int kProtocolMajor = 1;
inline constexpr int kProtocolMinor = 1;  // 1.1: cancel.for_restart

nlohmann::json protocol_version_json();  // [major, minor]
// Why a peer's "protocol" field is refused, or nothing when its major is ours. `peer`: "worker" or
// "server", for the message.
std::optional<std::string> protocol_mismatch(const nlohmann::json& message, const std::string& peer);

nlohmann::json model_info_json(const sdk::ModelInfo& info);
sdk::ModelInfo model_info_from_json(const nlohmann::json& j);

// A finished job's result without its pixels: state, image paths, error, attempts, degraded, metrics
// (states, phases with their peak memory, wait/run times, checkpoints). Round-trips every field the
// server journals and shows.
nlohmann::json job_result_json(const JobResult& result);
// Throws FrameError naming the first field that is missing or of the wrong type.
JobResult job_result_from_json(const nlohmann::json& j);

// Field accessors for incoming messages: throw FrameError naming the message type and the field.
std::string string_field(const nlohmann::json& message, const char* field);
std::uint64_t id_field(const nlohmann::json& message, const char* field);
int int_field(const nlohmann::json& message, const char* field);
ExecutionState state_field(const nlohmann::json& message, const char* field);

}  // namespace ftdr::framework
