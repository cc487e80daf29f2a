// guarded_queue.cpp: the guard of queue plugins (plugin_guard.hpp). Every call goes through
// plugin_call, so an exception other than sdk::Error escaping the plugin becomes an sdk::Error
// naming the plugin and the call. The runner registry (ABI 1.4) is asked only of plugins built for
// it: an older plugin's vtable has no such slots, and the host sees no runners. The observer a host
// passes to watch() is the host's own object and is handed over as is.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ftdr/framework/plugins/plugin_guard.hpp"
#include "ftdr/sdk/queue.hpp"

namespace ftdr::framework {
namespace {

class GuardedQueue final : public sdk::JobQueue, public PluginGuard {
 public:
  GuardedQueue(std::shared_ptr<sdk::JobQueue> inner, const PluginInfo& info)
      : PluginGuard(info), inner_(std::move(inner)) {}

  std::uint64_t enqueue(const std::string& request, sdk::Priority priority, std::int64_t now_ms) override {
    return guarded("enqueue", [&] { return inner_->enqueue(request, priority, now_ms); });
  }
  void remove(std::uint64_t id) override {
    guarded("remove", [&] { inner_->remove(id); });
  }
  std::optional<sdk::QueuedJob> job(std::uint64_t id) const override {
    return guarded("job", [&] { return inner_->job(id); });
  }
  std::vector<sdk::QueuedJob> jobs() const override {
    return guarded("jobs", [&] { return inner_->jobs(); });
  }
  bool cancel(std::uint64_t id, const std::string& result, std::int64_t now_ms) override {
    return guarded("cancel", [&] { return inner_->cancel(id, result, now_ms); });
  }
  std::vector<std::uint64_t> forget_finished(std::size_t keep) override {
    return guarded("forget_finished", [&] { return inner_->forget_finished(keep); });
  }
  sdk::QueueDepth depth() const override {
    return guarded("depth", [&] { return inner_->depth(); });
  }
  void watch(std::shared_ptr<sdk::QueueObserver> observer) override {
    guarded("watch", [&] { inner_->watch(std::move(observer)); });
  }

  std::optional<sdk::Lease> claim(const std::string& worker, std::int64_t wait_ms) override {
    return guarded("claim", [&] { return inner_->claim(worker, wait_ms); });
  }
  sdk::LeaseState renew(const sdk::Lease& lease) override {
    return guarded("renew", [&] { return inner_->renew(lease); });
  }
  bool report(const sdk::Lease& lease, const sdk::QueueEvent& event) override {
    return guarded("report", [&] { return inner_->report(lease, event); });
  }
  bool set_job_dir(const sdk::Lease& lease, const std::string& dir) override {
    return guarded("set_job_dir", [&] { return inner_->set_job_dir(lease, dir); });
  }
  bool complete(const sdk::Lease& lease, const std::string& state, const std::string& result,
                std::int64_t now_ms) override {
    return guarded("complete", [&] { return inner_->complete(lease, state, result, now_ms); });
  }
  bool release(const sdk::Lease& lease) override {
    return guarded("release", [&] { return inner_->release(lease); });
  }

  void put_blob(std::uint64_t job_id, const std::string& name, const std::string& bytes) override {
    guarded("put_blob", [&] { inner_->put_blob(job_id, name, bytes); });
  }
  std::optional<std::string> get_blob(std::uint64_t job_id, const std::string& name) const override {
    return guarded("get_blob", [&] { return inner_->get_blob(job_id, name); });
  }
  std::vector<std::string> blob_names(std::uint64_t job_id) const override {
    return guarded("blob_names", [&] { return inner_->blob_names(job_id); });
  }

  void announce(const sdk::RunnerInfo& runner, std::int64_t now_ms) override {
    if (has_abi_minor(sdk::kAbiMinorQueueRunners))
      guarded("announce", [&] { inner_->announce(runner, now_ms); });
  }
  std::vector<sdk::RunnerInfo> runners(std::int64_t now_ms) const override {
    if (!has_abi_minor(sdk::kAbiMinorQueueRunners)) return {};
    return guarded("runners", [&] { return inner_->runners(now_ms); });
  }

 private:
  std::shared_ptr<sdk::JobQueue> inner_;
};

}  // namespace

std::shared_ptr<sdk::JobQueue> guard(std::shared_ptr<sdk::JobQueue> object, const PluginInfo& info) {
  if (!object || plugin_info_of(*object)) return object;  // a guard is never guarded again
  return std::make_shared<GuardedQueue>(std::move(object), info);
}

}  // namespace ftdr::framework
