// The worker protocol's messages (see worker_protocol.hpp).
#include "ftdr/framework/workers/worker_protocol.hpp"

#include "ftdr/framework/workers/frame_codec.hpp"

namespace ftdr::framework {

using nlohmann::json;

namespace {

template <class Enum, class Name>
Enum enum_named(const std::string& text, int count, Name name, const char* what) {
  for (int i = 0; i < count; ++i)
    if (name(static_cast<Enum>(i)) == text) return static_cast<Enum>(i);
  throw FrameError(std::string("unknown ") + what + " '" + text + "'");
}

sdk::Phase phase_named(const std::string& text) {
  return enum_named<sdk::Phase>(
      text, 4, [](sdk::Phase p) { return sdk::to_string(p); }, "phase");
}

ExecutionState state_named(const std::string& text) {
  return enum_named<ExecutionState>(
      text, kExecutionStateCount, [](ExecutionState s) { return to_string(s); }, "state");
}

sdk::ErrorKind kind_named(const std::string& text) {
  sdk::ErrorKind kind = sdk::ErrorKind::internal;
  if (!sdk::parse_error_kind(text, kind)) throw FrameError("unknown error kind '" + text + "'");
  return kind;
}

// The message's type for error messages: "?" for one without (a nested object, or not an object).
std::string type_of(const json& message) {
  return message.is_object() && message.contains("type") && message["type"].is_string()
             ? message["type"].get<std::string>()
             : std::string("?");
}

const json& field(const json& message, const char* name) {
  if (!message.is_object() || !message.contains(name))
    throw FrameError("message \"" + type_of(message) + "\": field \"" + name + "\" is missing");
  return message[name];
}

template <class T>
T typed(const json& message, const char* name, const char* expected) {
  const json& v = field(message, name);
  try {
    return v.get<T>();
  } catch (const json::exception&) {
    throw FrameError("message \"" + type_of(message) + "\": field \"" + name + "\" must be " + expected);
  }
}

json attempt_json(const sdk::Attempt& a) {
  return {{"number", a.number},
          {"kind", std::string(sdk::to_string(a.failure.kind))},
          {"phase", std::string(sdk::to_string(a.failure.phase))},
          {"step", a.failure.step},
          {"message", a.failure.message},
          {"change", a.change},
          {"delay_ms", a.delay_ms}};
}

sdk::Attempt attempt_from_json(const json& j) {
  sdk::Attempt a;
  a.number = typed<int>(j, "number", "an integer");
  a.failure.kind = kind_named(typed<std::string>(j, "kind", "a string"));
  a.failure.phase = phase_named(typed<std::string>(j, "phase", "a string"));
  a.failure.step = typed<int>(j, "step", "an integer");
  a.failure.message = typed<std::string>(j, "message", "a string");
  a.change = typed<std::string>(j, "change", "a string");
  a.delay_ms = typed<std::int64_t>(j, "delay_ms", "an integer");
  return a;
}

json phase_json(const PhaseRecord& p) {
  return {{"attempt", p.attempt},
          {"phase", std::string(sdk::to_string(p.phase))},
          {"first_image", p.first_image},
          {"ms", p.ms},
          {"peak_bytes", p.after.peak_bytes}};
}

PhaseRecord phase_from_json(const json& j) {
  PhaseRecord p;
  p.attempt = typed<int>(j, "attempt", "an integer");
  p.phase = phase_named(typed<std::string>(j, "phase", "a string"));
  p.first_image = typed<int>(j, "first_image", "an integer");
  p.ms = typed<double>(j, "ms", "a number");
  p.after.peak_bytes = typed<std::uint64_t>(j, "peak_bytes", "an unsigned integer");
  return p;
}

}  // namespace

json protocol_version_json() { return json::array({kProtocolMajor, kProtocolMinor}); }

std::optional<std::string> protocol_mismatch(const json& message, const std::string& peer) {
  const json v = message.value("protocol", json());
  const std::string ours = std::to_string(kProtocolMajor) + "." + std::to_string(kProtocolMinor);
  if (!v.is_array() || v.size() != 2 || !v[0].is_number_integer() || !v[1].is_number_integer())
    return "the " + peer + " sent no protocol version [major, minor] (this side speaks " + ours + ")";
  if (v[0].get<int>() != kProtocolMajor)
    return "the " + peer + " speaks worker protocol " + std::to_string(v[0].get<int>()) + "." +
           std::to_string(v[1].get<int>()) + ", this side " + ours +
           " (another major version: run the same ftdr build on both sides)";
  return std::nullopt;
}

json model_info_json(const sdk::ModelInfo& m) {
  return {{"name", m.name},
          {"family", m.family},
          {"default_sampler", m.default_sampler},
          {"prediction_type", m.prediction_type},
          {"vae_scale_factor", m.vae_scale_factor},
          {"latent_channels", m.latent_channels},
          {"default_size", m.default_size},
          {"dtype", std::string(sdk::to_string(m.dtype))}};
}

sdk::ModelInfo model_info_from_json(const json& j) {
  sdk::ModelInfo m;
  m.name = typed<std::string>(j, "name", "a string");
  m.family = typed<std::string>(j, "family", "a string");
  m.default_sampler = typed<std::string>(j, "default_sampler", "a string");
  m.prediction_type = typed<std::string>(j, "prediction_type", "a string");
  m.vae_scale_factor = typed<int>(j, "vae_scale_factor", "an integer");
  m.latent_channels = typed<int>(j, "latent_channels", "an integer");
  m.default_size = typed<int>(j, "default_size", "an integer");
  m.dtype = enum_named<sdk::DType>(
      typed<std::string>(j, "dtype", "a string"), 3, [](sdk::DType d) { return sdk::to_string(d); }, "dtype");
  return m;
}

json job_result_json(const JobResult& r) {
  json attempts = json::array(), phases = json::array(), states = json::array();
  for (const auto& a : r.attempts) attempts.push_back(attempt_json(a));
  for (const auto& p : r.metrics.phases) phases.push_back(phase_json(p));
  for (const auto& s : r.metrics.states) states.push_back(std::string(to_string(s.state)));
  json out{{"state", std::string(to_string(r.state))},
           {"images", r.written_paths},
           {"attempts", attempts},
           {"degraded", r.degraded},
           {"error_message", r.error_message},
           {"metrics",
            {{"states", states},
             {"phases", phases},
             {"wait_ms", r.metrics.wait_ms},
             {"run_ms", r.metrics.run_ms},
             {"checkpoints", r.metrics.checkpoints}}}};
  out["error_kind"] = r.error_kind ? json(std::string(sdk::to_string(*r.error_kind))) : json();
  return out;
}

JobResult job_result_from_json(const json& j) {
  JobResult r;
  r.state = state_named(typed<std::string>(j, "state", "a string"));
  if (!is_terminal(r.state))
    throw FrameError("a result in the non-final state " + std::string(to_string(r.state)));
  r.written_paths = typed<std::vector<std::string>>(j, "images", "an array of strings");
  for (const auto& a : typed<json>(j, "attempts", "an array")) r.attempts.push_back(attempt_from_json(a));
  r.degraded = typed<bool>(j, "degraded", "a boolean");
  r.error_message = typed<std::string>(j, "error_message", "a string");
  if (const json& kind = field(j, "error_kind"); !kind.is_null())
    r.error_kind = kind_named(typed<std::string>(j, "error_kind", "a string or null"));
  const json& m = field(j, "metrics");
  for (const auto& p : typed<json>(m, "phases", "an array")) r.metrics.phases.push_back(phase_from_json(p));
  for (const auto& s : typed<std::vector<std::string>>(m, "states", "an array of strings"))
    r.metrics.states.push_back(StateStamp{state_named(s), {}, {}});
  r.metrics.wait_ms = typed<double>(m, "wait_ms", "a number");
  r.metrics.run_ms = typed<double>(m, "run_ms", "a number");
  r.metrics.checkpoints = typed<std::vector<std::string>>(m, "checkpoints", "an array of strings");
  return r;
}

std::string string_field(const json& message, const char* name) {
  return typed<std::string>(message, name, "a string");
}
std::uint64_t id_field(const json& message, const char* name) {
  return typed<std::uint64_t>(message, name, "an unsigned integer");
}
int int_field(const json& message, const char* name) { return typed<int>(message, name, "an integer"); }
ExecutionState state_field(const json& message, const char* name) {
  return state_named(string_field(message, name));
}

}  // namespace ftdr::framework
