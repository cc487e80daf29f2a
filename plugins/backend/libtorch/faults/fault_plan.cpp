// faults/fault_plan.cpp: see fault_plan.h for the spec grammar and the semantics of check().
#include "faults/fault_plan.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <random>
#include <stdexcept>
#include <thread>

namespace ftdr::torchbe {
namespace {

constexpr int kAlways = -1;  // `times=always`
constexpr std::string_view kKeys =
    "oom, device_error, nan, slow_step, crash, hang, sticky_device_error, chaos";
// The tag adapter/error_classifier.cpp gives a lost CUDA context; hosts restart the process on it.
constexpr std::string_view kStickyTag =
    "[sticky: the CUDA context is lost; the device is unusable until the process restarts]";
constexpr std::string_view kRuleForm =
    "\"<phase>[:step=N][:times=N|always]\" with phase encode, diffusion or decode (step: diffusion only)";
constexpr std::string_view kSlowForm =
    "\"<phase>[:step=N]:ms=N[:times=N|always]\" with phase encode, diffusion or decode (step: diffusion "
    "only)";
constexpr std::string_view kChaosForm =
    "\"seed=N:p=P[:kinds=K+K...][:phases=P+P...][:times=N|always][:ms=N]\" with 0 <= p <= 1, kinds from oom, "
    "device_error, nan, slow, phases from encode, diffusion, decode";

}  // namespace

// Named, not anonymous: FaultPlan::State (external linkage) holds these, which GCC refuses
// (-Wsubobject-linkage) once this file is compiled inside a unity batch.
namespace fault_plan_detail {

struct Rule {
  FaultKind kind = FaultKind::oom;
  sdk::Phase phase = sdk::Phase::diffusion;
  int step = 0;  // 0 = any
  int times = 1;
  int fired = 0;
  int ms = 0;
  std::string origin;  // oom = "diffusion:step=7"
};

struct Chaos {
  double p = 0;
  std::vector<FaultKind> kinds{FaultKind::oom, FaultKind::device_error, FaultKind::nan};
  std::vector<sdk::Phase> phases{sdk::Phase::encoding, sdk::Phase::diffusion, sdk::Phase::decoding};
  int times = kAlways;
  int fired = 0;
  int ms = 100;
  std::string origin;
  std::mt19937_64 rng;
};

}  // namespace fault_plan_detail

namespace {

using fault_plan_detail::Chaos;
using fault_plan_detail::Rule;

// What is wrong with a spec; the caller adds where it was and the expected form.
struct SpecProblem {
  std::string what;
};

// Rejects `key` with the expected form; never returns.
using Reject = std::function<void(const std::string& key, const std::string& expected)>;

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  std::size_t begin = 0;
  for (std::size_t i = 0; i <= s.size(); ++i) {
    if (i == s.size() || s[i] == sep) {
      parts.push_back(trim(s.substr(begin, i - begin)));
      begin = i + 1;
    }
  }
  return parts;
}

long long parse_number(std::string_view name, std::string_view text, long long min) {
  long long v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || v < min || v > 1'000'000'000)
    throw SpecProblem{std::string(name) + " must be an integer >= " + std::to_string(min) + ", got '" +
                      std::string(text) + "'"};
  return v;
}

int parse_times(std::string_view text) {
  if (text == "always") return kAlways;
  return static_cast<int>(parse_number("times", text, 1));
}

double parse_probability(std::string_view text) {
  const std::string s(text);
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (s.empty() || end != s.c_str() + s.size() || !(v >= 0.0 && v <= 1.0))
    throw SpecProblem{"p must be a probability from 0 to 1, got '" + s + "'"};
  return v;
}

sdk::Phase parse_phase(std::string_view text) {
  if (text == "encode") return sdk::Phase::encoding;
  if (text == "diffusion") return sdk::Phase::diffusion;
  if (text == "decode") return sdk::Phase::decoding;
  throw SpecProblem{"unknown phase '" + std::string(text) + "'"};
}

FaultKind parse_kind(std::string_view text) {
  for (FaultKind k : {FaultKind::oom, FaultKind::device_error, FaultKind::nan, FaultKind::slow})
    if (to_string(k) == text) return k;
  throw SpecProblem{"unknown kind '" + std::string(text) + "'"};
}

// Splits "name=value"; throws when there is no '='.
std::pair<std::string_view, std::string_view> option(std::string_view part) {
  const auto eq = part.find('=');
  if (eq == std::string_view::npos) throw SpecProblem{"expected name=value, got '" + std::string(part) + "'"};
  return {trim(part.substr(0, eq)), trim(part.substr(eq + 1))};
}

Rule parse_rule(std::string_view key, FaultKind kind, std::string_view spec) {
  const auto parts = split(spec, ':');
  Rule r;
  r.kind = kind;
  r.phase = parse_phase(parts[0]);
  r.origin = std::string(key) + " = \"" + std::string(spec) + "\"";
  bool has_ms = false;
  for (std::size_t i = 1; i < parts.size(); ++i) {
    auto [name, value] = option(parts[i]);
    if (name == "step" && r.phase == sdk::Phase::diffusion) {
      r.step = static_cast<int>(parse_number("step", value, 1));
    } else if (name == "times") {
      r.times = parse_times(value);
    } else if (name == "ms" && kind == FaultKind::slow) {
      r.ms = static_cast<int>(parse_number("ms", value, 0));
      has_ms = true;
    } else if (name == "step") {
      throw SpecProblem{"step= is only valid for diffusion"};
    } else if (name == "ms") {
      throw SpecProblem{"ms= is only valid for slow_step"};
    } else {
      throw SpecProblem{"unknown option '" + std::string(name) + "'"};
    }
  }
  if (kind == FaultKind::slow && !has_ms) throw SpecProblem{"ms=N is required"};
  return r;
}

template <class T, class Parse>
std::vector<T> parse_list(std::string_view text, Parse parse) {
  std::vector<T> out;
  for (auto item : split(text, '+')) out.push_back(parse(item));
  return out;
}

Chaos parse_chaos(std::string_view spec) {
  Chaos c;
  c.origin = "chaos = \"" + std::string(spec) + "\"";
  bool has_p = false;
  std::uint64_t seed = 0;
  for (auto part : split(spec, ':')) {
    auto [name, value] = option(part);
    if (name == "seed") {
      seed = static_cast<std::uint64_t>(parse_number("seed", value, 0));
    } else if (name == "p") {
      c.p = parse_probability(value);
      has_p = true;
    } else if (name == "kinds") {
      c.kinds = parse_list<FaultKind>(value, parse_kind);
    } else if (name == "phases") {
      c.phases = parse_list<sdk::Phase>(value, parse_phase);
    } else if (name == "times") {
      c.times = parse_times(value);
    } else if (name == "ms") {
      c.ms = static_cast<int>(parse_number("ms", value, 0));
    } else {
      throw SpecProblem{"unknown option '" + std::string(name) + "'"};
    }
  }
  if (!has_p) throw SpecProblem{"p=P is required"};
  c.rng.seed(seed);
  return c;
}

std::optional<FaultKind> rule_kind(std::string_view key) {
  if (key == "oom") return FaultKind::oom;
  if (key == "device_error") return FaultKind::device_error;
  if (key == "nan") return FaultKind::nan;
  if (key == "slow_step") return FaultKind::slow;
  if (key == "crash") return FaultKind::crash;
  if (key == "hang") return FaultKind::hang;
  if (key == "sticky_device_error") return FaultKind::sticky;
  return std::nullopt;
}

std::string place(sdk::Phase phase, int step) {
  if (phase == sdk::Phase::diffusion) return "diffusion step " + std::to_string(step);
  return std::string(to_string(phase));
}

std::string count_text(int fired, int times) {
  return std::to_string(fired) + " of " + (times == kAlways ? std::string("always") : std::to_string(times));
}

double unit(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

// One firing of the rule `key` counted in the shared file (FTDR_FAULT_COUNTS): its new count, 0 when
// the rule is spent, -1 when the file cannot be used (the rule then counts in this process alone).
// Lines "<count> <key>"; read, changed and rewritten under an exclusive flock.
int fire_shared(const std::string& file, const std::string& key, int times) {
  const int fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return -1;
  ::flock(fd, LOCK_EX);
  std::string text;
  char buf[4096];
  for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) text.append(buf, static_cast<std::size_t>(n));
  std::string out;
  int count = 0;
  for (auto line : split(text, '\n')) {
    const auto space = line.find(' ');
    if (space == std::string_view::npos) continue;
    if (line.substr(space + 1) == key)
      count = std::atoi(std::string(line.substr(0, space)).c_str());
    else
      out += std::string(line) + "\n";
  }
  const bool spent = times != kAlways && count >= times;
  if (!spent) ++count;
  out += std::to_string(count) + " " + key + "\n";
  bool written =
      ::ftruncate(fd, 0) == 0 && ::pwrite(fd, out.data(), out.size(), 0) == static_cast<ssize_t>(out.size());
  ::flock(fd, LOCK_UN);
  ::close(fd);
  if (!written) return -1;
  return spent ? 0 : count;
}

}  // namespace

struct FaultPlan::State {
  std::mutex mutex;
  std::vector<Rule> rules;
  std::optional<Chaos> chaos;
  std::optional<FaultAction> sticky;  // once a sticky fault fired: what every later check answers
  std::string counts_file = [] {
    const char* f = std::getenv("FTDR_FAULT_COUNTS");
    return std::string(f ? f : "");
  }();

  // Counts one firing of `r`; false when it is spent (shared count).
  bool fire(Rule& r) {
    if (r.times != kAlways && r.fired >= r.times) return false;
    const int shared = counts_file.empty() ? -1 : fire_shared(counts_file, r.origin, r.times);
    if (shared == 0) {
      r.fired = r.times;
      return false;
    }
    r.fired = shared > 0 ? shared : r.fired + 1;
    return true;
  }

  // Parses one `key = value` entry (value: one or more specs separated by ',').
  void add(const std::string& key, std::string_view value, const Reject& reject) {
    const auto kind = rule_kind(key);
    if (!kind && key != "chaos") {
      reject(key, "a fault kind: one of " + std::string(kKeys));  // throws
      return;
    }
    const std::string_view form = !kind ? kChaosForm : *kind == FaultKind::slow ? kSlowForm : kRuleForm;
    try {
      if (!kind) {
        chaos = parse_chaos(trim(value));
        return;
      }
      for (auto spec : split(value, ',')) rules.push_back(parse_rule(key, *kind, spec));
    } catch (const SpecProblem& p) {
      reject(key, std::string(form) + ", got \"" + std::string(value) + "\" (" + p.what + ")");
    }
  }
};

std::string_view to_string(FaultKind kind) {
  switch (kind) {
    case FaultKind::oom: return "oom";
    case FaultKind::device_error: return "device_error";
    case FaultKind::nan: return "nan";
    case FaultKind::slow: return "slow";
    case FaultKind::crash: return "crash";
    case FaultKind::hang: return "hang";
    case FaultKind::sticky: return "sticky_device_error";
  }
  return "oom";
}

bool is_error(FaultKind kind) {
  return kind == FaultKind::oom || kind == FaultKind::device_error || kind == FaultKind::sticky;
}

sdk::Error as_error(const FaultAction& action) {
  if (action.kind == FaultKind::oom)
    return sdk::Error(sdk::ErrorKind::out_of_memory, "out of memory: " + action.message);
  if (action.kind == FaultKind::device_error) return sdk::Error(sdk::ErrorKind::device_error, action.message);
  if (action.kind == FaultKind::sticky)
    return sdk::Error(sdk::ErrorKind::device_error, "an illegal memory access was encountered (" +
                                                        action.message + ") " + std::string(kStickyTag));
  throw std::logic_error("as_error: a " + std::string(to_string(action.kind)) + " fault is not an error");
}

bool is_fatal(FaultKind kind) { return kind == FaultKind::crash || kind == FaultKind::hang; }

void carry_out_fatal(const FaultAction& action) {
  if (action.kind == FaultKind::crash) std::abort();
  if (action.kind != FaultKind::hang)
    throw std::logic_error("carry_out_fatal: a " + std::string(to_string(action.kind)) +
                           " fault is not fatal");
  for (;;) std::this_thread::sleep_for(std::chrono::hours(1));  // a driver call that never returns
}

FaultPlan::FaultPlan() : state_(std::make_unique<State>()) {}
FaultPlan::FaultPlan(FaultPlan&&) noexcept = default;
FaultPlan& FaultPlan::operator=(FaultPlan&&) noexcept = default;
FaultPlan::~FaultPlan() = default;

FaultPlan FaultPlan::parse(const sdk::ConfigView& table) {
  FaultPlan plan;
  const Reject reject = [&table](const std::string& key, const std::string& expected) {
    table.reject(key, expected);
  };
  for (const auto& key : table.keys()) {
    // Unknown keys first: for a misspelt key with a non-string value, the name is the real problem.
    if (!rule_kind(key) && key != "chaos") reject(key, "a fault kind: one of " + std::string(kKeys));
    plan.state_->add(key, table.get_string(key, ""), reject);
  }
  return plan;
}

FaultPlan FaultPlan::parse(std::string_view text, std::string_view source) {
  FaultPlan plan;
  const std::string where(source);
  for (auto entry : split(text, ';')) {
    if (entry.empty()) continue;
    const auto eq = entry.find('=');
    if (eq == std::string_view::npos)
      throw sdk::Error(
          sdk::ErrorKind::invalid_request,
          where + ": expected <kind>=<spec> entries separated by ';', got \"" + std::string(entry) + "\"");
    const std::string key(trim(entry.substr(0, eq)));
    const Reject reject = [&](const std::string& k, const std::string& expected) {
      throw sdk::Error(sdk::ErrorKind::invalid_request, where + ": '" + k + "': expected " + expected);
    };
    plan.state_->add(key, trim(entry.substr(eq + 1)), reject);
  }
  return plan;
}

FaultPlan FaultPlan::from_environment() {
  const char* text = std::getenv("FTDR_FAULTS");
  if (text == nullptr || *text == '\0') return FaultPlan();
  return parse(text, "FTDR_FAULTS");
}

void FaultPlan::merge(FaultPlan&& other) {
  if (!other.state_) return;
  if (!state_) state_ = std::make_unique<State>();
  std::scoped_lock lock(state_->mutex, other.state_->mutex);
  for (auto& r : other.state_->rules) state_->rules.push_back(std::move(r));
  if (other.state_->chaos) state_->chaos = std::move(other.state_->chaos);
  other.state_->rules.clear();
  other.state_->chaos.reset();
}

bool FaultPlan::empty() const {
  if (!state_) return true;
  std::lock_guard<std::mutex> lock(state_->mutex);
  return state_->rules.empty() && !state_->chaos;
}

std::vector<std::string> FaultPlan::describe() const {
  std::vector<std::string> lines;
  if (!state_) return lines;
  std::lock_guard<std::mutex> lock(state_->mutex);
  auto left = [](int fired, int times) {
    return times == kAlways ? std::string("always") : std::to_string(times - fired) + " left";
  };
  for (const auto& r : state_->rules) lines.push_back(r.origin + " (" + left(r.fired, r.times) + ")");
  if (const auto& c = state_->chaos) lines.push_back(c->origin + " (" + left(c->fired, c->times) + ")");
  return lines;
}

std::optional<FaultAction> FaultPlan::check(sdk::Phase phase, int step) {
  if (!state_) return std::nullopt;
  std::lock_guard<std::mutex> lock(state_->mutex);
  if (state_->sticky) return state_->sticky;
  for (auto& r : state_->rules) {
    if (r.phase != phase || (r.step != 0 && r.step != step) || !state_->fire(r)) continue;
    FaultAction action{r.kind, r.ms,
                       "injected " + std::string(to_string(r.kind)) + " at " + place(phase, step) + " (" +
                           r.origin + ", firing " + count_text(r.fired, r.times) + ")"};
    if (r.kind == FaultKind::sticky) state_->sticky = action;
    return action;
  }
  if (!state_->chaos) return std::nullopt;
  Chaos& c = *state_->chaos;
  const bool spent = c.times != kAlways && c.fired >= c.times;
  if (spent || std::find(c.phases.begin(), c.phases.end(), phase) == c.phases.end()) return std::nullopt;
  if (unit(c.rng) >= c.p) return std::nullopt;
  const FaultKind kind = c.kinds[c.rng() % c.kinds.size()];
  ++c.fired;
  return FaultAction{kind, kind == FaultKind::slow ? c.ms : 0,
                     "injected " + std::string(to_string(kind)) + " at " + place(phase, step) + " (" +
                         c.origin + ", firing " + count_text(c.fired, c.times) + ")"};
}

}  // namespace ftdr::torchbe
