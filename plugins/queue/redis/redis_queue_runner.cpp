// The runner's side of RedisQueue (claim and the fenced writes under a lease) and the blobs.
#include <algorithm>
#include <chrono>

#include "ftdr/sdk/error.hpp"
#include "redis_job_codec.hpp"
#include "redis_queue.hpp"

namespace ftdr::plugins::redis {
namespace {

constexpr std::chrono::milliseconds kPollInterval{200};  // a lease may expire without a wake-up

std::int64_t wall_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

}  // namespace

std::optional<sdk::Lease> RedisQueue::claim(const std::string& worker, std::int64_t wait_ms) {
  if (worker.empty())
    throw sdk::Error(sdk::ErrorKind::invalid_request,
                     "redis queue: claim(): worker must name the runner (host/pid)");
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + std::chrono::milliseconds(std::max<std::int64_t>(0, wait_ms));
  for (;;) {
    const std::uint64_t seen = wake_.generation();  // read first: a wake-up during the try is kept
    if (auto lease = try_claim(worker)) return lease;
    const auto now = Clock::now();
    if (now >= deadline) return std::nullopt;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now);
    wake_.wait_for_change(seen, std::min(left + std::chrono::milliseconds(1), kPollInterval));
  }
}

std::optional<sdk::Lease> RedisQueue::try_claim(const std::string& worker) {
  Reply r = link_.eval(scripts_.claim,
                       {settings_.prefix, nonce(), reply_ttl_ms(), worker, std::to_string(wall_ms()),
                        std::to_string(settings_.lease_ms), std::to_string(settings_.aging_ms)},
                       "claim()");
  if (is_nil(r.get())) return std::nullopt;
  const auto id = static_cast<std::uint64_t>(integer(&element(r.get(), 0, "claim()"), "claim()"));
  const auto fields = field_map(&element(r.get(), 1, "claim()"), "claim()");
  sdk::Lease lease;
  lease.job = job_from_fields(id, fields);
  const auto token = fields.find("token");
  if (token == fields.end())
    throw sdk::Error(sdk::ErrorKind::internal, "redis queue: claim(): the job has no token");
  lease.token = std::stoull(token->second);
  lease.worker = worker;
  return lease;
}

std::vector<std::string> RedisQueue::lease_args(const sdk::Lease& lease) const {
  return {settings_.prefix, std::to_string(lease.job.id), std::to_string(lease.token)};
}

bool RedisQueue::fenced(const LuaScript& script, std::vector<std::string> args, const char* what) {
  return integer(link_.eval(script, args, what).get(), what) == 1;
}

sdk::LeaseState RedisQueue::renew(const sdk::Lease& lease) {
  auto args = lease_args(lease);
  args.push_back(std::to_string(settings_.lease_ms));
  switch (integer(link_.eval(scripts_.renew, args, "renew()").get(), "renew()")) {
    case 0: return sdk::LeaseState::held;
    case 1: return sdk::LeaseState::cancel_requested;
    default: return sdk::LeaseState::lost;
  }
}

bool RedisQueue::report(const sdk::Lease& lease, const sdk::QueueEvent& event) {
  sdk::QueueEvent e = event;
  e.job_id = lease.job.id;  // an event always speaks of the leased job
  auto args = lease_args(lease);
  args.push_back(e.kind == sdk::QueueEventKind::state ? "1" : "0");
  args.push_back(e.state);
  args.push_back(event_json(e));
  return fenced(scripts_.report, std::move(args), "report()");
}

bool RedisQueue::set_job_dir(const sdk::Lease& lease, const std::string& dir) {
  auto args = lease_args(lease);
  args.push_back(dir);
  return fenced(scripts_.set_job_dir, std::move(args), "set_job_dir()");
}

bool RedisQueue::complete(const sdk::Lease& lease, const std::string& state, const std::string& result,
                          std::int64_t now_ms) {
  if (now_ms <= 0)
    throw sdk::Error(
        sdk::ErrorKind::invalid_request,
        "redis queue: complete(): now_ms must be > 0 (wall-clock ms), got " + std::to_string(now_ms));
  auto args = lease_args(lease);
  args.insert(args.end(), {state, result, std::to_string(now_ms),
                           event_json({lease.job.id, sdk::QueueEventKind::finished, state, 0, 0, result}),
                           nonce(), reply_ttl_ms()});
  return fenced(scripts_.complete, std::move(args), "complete()");
}

bool RedisQueue::release(const sdk::Lease& lease) {
  auto args = lease_args(lease);
  args.insert(args.end(), {event_json({lease.job.id, sdk::QueueEventKind::state, "queued", 0, 0, ""}),
                           nonce(), reply_ttl_ms()});
  return fenced(scripts_.release, std::move(args), "release()");
}

void RedisQueue::put_blob(std::uint64_t job_id, const std::string& name, const std::string& bytes) {
  if (name.empty())
    throw sdk::Error(sdk::ErrorKind::invalid_request, "redis queue: put_blob(): empty blob name");
  if (static_cast<std::int64_t>(bytes.size()) > settings_.blob_max_bytes)
    throw sdk::Error(sdk::ErrorKind::invalid_request,
                     "redis queue: blob '" + name + "' of job " + std::to_string(job_id) + " has " +
                         std::to_string(bytes.size()) + " bytes, over [queue.redis] blob_max_bytes = " +
                         std::to_string(settings_.blob_max_bytes));
  if (!fenced(scripts_.put_blob, {settings_.prefix, std::to_string(job_id), name, bytes}, "put_blob()"))
    throw sdk::Error(sdk::ErrorKind::invalid_request,
                     "redis queue: put_blob(): job " + std::to_string(job_id) + " is not in the queue");
}

std::optional<std::string> RedisQueue::get_blob(std::uint64_t job_id, const std::string& name) const {
  Reply r =
      link_.run({"GET", settings_.prefix + ":blob:" + std::to_string(job_id) + ":" + name}, "get_blob()");
  if (is_nil(r.get())) return std::nullopt;
  return text(r.get(), "get_blob()");
}

std::vector<std::string> RedisQueue::blob_names(std::uint64_t job_id) const {
  Reply r = link_.run({"SMEMBERS", settings_.prefix + ":blobs:" + std::to_string(job_id)}, "blob_names()");
  std::vector<std::string> names;
  for (std::size_t i = 0; i < r->elements; ++i)
    names.push_back(text(&element(r.get(), i, "blob_names()"), "blob_names()"));
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace ftdr::plugins::redis
