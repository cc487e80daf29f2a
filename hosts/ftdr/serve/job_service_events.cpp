// The server's jobs (see job_service.hpp): what the queue's events change. They arrive on the queue
// plugin's thread, one at a time and in order per job; nothing here calls back into the queue.
#include <chrono>

#include "ftdr/framework/logging.hpp"
#include "job_json.hpp"
#include "job_service.hpp"
#include "recovery_action.hpp"
#include "wall_clock.hpp"

namespace ftdr::host::serve {

using nlohmann::json;

namespace {

constexpr std::size_t kMaxEarly = 1024;  // ids whose events wait for their submit() to store them

}  // namespace

// The queue holds its observers until it is destroyed: this one forgets the service when it goes.
class JobService::Events final : public sdk::QueueObserver {
 public:
  explicit Events(JobService* service) : service_(service) {}
  void on_event(const sdk::QueueEvent& event) override {
    std::lock_guard<std::mutex> lock(mutex_);
    if (service_) service_->on_event(event);
  }
  void detach() {
    std::lock_guard<std::mutex> lock(mutex_);
    service_ = nullptr;
  }

 private:
  std::mutex mutex_;
  JobService* service_;
};

std::shared_ptr<JobService::Events> JobService::watch_queue() {
  auto events = std::make_shared<Events>(this);
  queue_->watch(events);
  return events;
}

void JobService::unwatch_queue() { events_->detach(); }

void JobService::on_event(const sdk::QueueEvent& event) {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto id = static_cast<std::int64_t>(event.job_id);
  auto it = records_.find(id);
  if (it != records_.end()) {
    apply(it->second, event);
    return settled_.notify_all();
  }
  // Not stored yet: its submit() is between the queue's commit and the record (a runner can be that
  // quick). Ids below every record's are forgotten jobs.
  if (!records_.empty() && id < records_.begin()->first) return;
  if (early_.size() >= kMaxEarly) early_.erase(early_.begin());
  early_[id].push_back(event);
}

void JobService::apply(JobRecord& r, const sdk::QueueEvent& event) {
  if (r.finished()) return;  // e.g. the finished event of a job cancel() already ended
  switch (event.kind) {
    case sdk::QueueEventKind::state:
      set_state(r, event.state);
      if (event.state == "queued") {  // given back (a runner stopping): no event for the clients
        if (shutting_down_) close_streams(r);
        return;
      }
      return publish(r, "state", {{"state", event.state}});
    case sdk::QueueEventKind::progress:
      r.step = event.step;
      r.total_steps = event.total;
      return publish(r, "progress", {{"step", event.step}, {"total", event.total}});
    case sdk::QueueEventKind::finished:
      // Its PNGs are in the queue: the job shows as completed once they are here (fetched()).
      if (fetcher_ && event.state == "completed") return fetcher_->post(r.id, event.state, event.detail);
      return apply_finished(r, event.state, event.detail, wall_ms());
    case sdk::QueueEventKind::cancel: return;  // the runner holding the job acts on it
  }
}

void JobService::apply_finished(JobRecord& r, const std::string& state, const std::string& result,
                                std::int64_t now_ms) {
  if (r.finished()) return;
  try {
    r.result = json::parse(result);
  } catch (const std::exception& e) {  // a runner that is not FTDR's: the state stands, the result is noted
    r.result = {
        {"images", json::array()},
        {"error", {{"kind", "internal"}, {"message", std::string("unreadable result: ") + e.what()}}}};
  }
  set_state(r, state);  // before finished_ms: it is still counted as the state it leaves
  r.finished_ms = now_ms;
  ++finished_;
  count_finished(state, r.result);
  publish(r, "state", final_event(r));
  close_streams(r);
  trim_finished();
}

void JobService::fetched(std::int64_t id, const std::string& state, const std::string& result) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = records_.find(id);
  if (it != records_.end()) apply_finished(it->second, state, result, wall_ms());
  settled_.notify_all();
}

// /metrics' counters, from the result as the runner recorded it (result_json()).
void JobService::count_finished(const std::string& state, const json& result) {
  ++counts_.finished_by_state[state];
  for (const auto& a : result.value("attempts", json::array())) {
    const std::string kind = a.value("kind", "internal");
    ++counts_.failed_attempts_by_kind[kind];
    const std::string change = a.value("change", "");
    if (!change.empty()) ++counts_.recoveries[{kind, recovery_action(change)}];
  }
  const json timings = result.value("timings", json::object());
  for (const auto& p : timings.value("phases", json::array()))
    counts_.phase_seconds[p.value("phase", "")].observe(p.value("ms", 0.0) / 1000);
}

void JobService::publish(JobRecord& record, const std::string& event, const json& data) {
  const std::string text = "id: " + std::to_string(record.events.size() + 1) + "\nevent: " + event +
                           "\ndata: " + data.dump() + "\n\n";
  record.events.push_back(text);
  for (const auto& s : record.subscribers) s->push(text);
}

void JobService::close_streams(JobRecord& record) {
  for (const auto& s : record.subscribers) s->close();
  record.subscribers.clear();
}

// The oldest finished jobs beyond keep_finished leave the listing now; the queue forgets them at
// a later submission (forget_old(): a commit, never made on the queue's thread).
void JobService::trim_finished() {
  for (auto it = records_.begin(); it != records_.end() && finished_ > settings_.keep_finished;) {
    if (it->second.finished()) {
      close_streams(it->second);
      it = records_.erase(it);
      --finished_;
      ++trimmed_;
    } else {
      ++it;
    }
  }
}

}  // namespace ftdr::host::serve
