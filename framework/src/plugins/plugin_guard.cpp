// The guards of the scheduler, memory policy, recovery and tiling interfaces (plugin_guard.hpp);
// the backend's is guarded_backend.cpp.
#include "ftdr/framework/plugins/plugin_guard.hpp"

namespace ftdr::framework {
namespace {

class GuardedScheduler final : public sdk::JobScheduler, public PluginGuard {
 public:
  GuardedScheduler(std::shared_ptr<sdk::JobScheduler> inner, const PluginInfo& info)
      : PluginGuard(info), inner_(std::move(inner)) {}
  void push(const sdk::QueueEntry& entry) override {
    guarded("push", [&] { inner_->push(entry); });
  }
  std::optional<std::uint64_t> pop_next(std::int64_t now_ms) override {
    return guarded("pop_next", [&] { return inner_->pop_next(now_ms); });
  }
  bool erase(std::uint64_t job_id) override {
    return guarded("erase", [&] { return inner_->erase(job_id); });
  }
  std::size_t size() const override {
    return guarded("size", [&] { return inner_->size(); });
  }
  std::vector<std::uint64_t> snapshot(std::int64_t now_ms) const override {
    return guarded("snapshot", [&] { return inner_->snapshot(now_ms); });
  }

 private:
  std::shared_ptr<sdk::JobScheduler> inner_;
};

class GuardedPolicy final : public sdk::MemoryPolicy, public PluginGuard {
 public:
  GuardedPolicy(std::shared_ptr<sdk::MemoryPolicy> inner, const PluginInfo& info)
      : PluginGuard(info), inner_(std::move(inner)) {}
  sdk::Placement place(const sdk::PlacementRequest& request) override {
    return guarded("place", [&] { return inner_->place(request); });
  }

 private:
  std::shared_ptr<sdk::MemoryPolicy> inner_;
};

class GuardedRecovery final : public sdk::RecoveryStrategy, public PluginGuard {
 public:
  GuardedRecovery(std::shared_ptr<sdk::RecoveryStrategy> inner, const PluginInfo& info)
      : PluginGuard(info), inner_(std::move(inner)) {}
  sdk::RecoveryDecision decide(const sdk::Failure& failure, const std::vector<sdk::Attempt>& history,
                               const sdk::GenerationParams& current) override {
    return guarded("decide", [&] { return inner_->decide(failure, history, current); });
  }

 private:
  std::shared_ptr<sdk::RecoveryStrategy> inner_;
};

class GuardedTiling final : public sdk::TilingStrategy, public PluginGuard {
 public:
  GuardedTiling(std::shared_ptr<sdk::TilingStrategy> inner, const PluginInfo& info)
      : PluginGuard(info), inner_(std::move(inner)) {}
  sdk::TilePlan plan(const sdk::TileRequest& request) override {
    return guarded("plan", [&] { return inner_->plan(request); });
  }

 private:
  std::shared_ptr<sdk::TilingStrategy> inner_;
};

// Wraps `object` once: a guard is never guarded again.
template <typename Guard, typename Interface>
std::shared_ptr<Interface> wrap(std::shared_ptr<Interface> object, const PluginInfo& info) {
  if (!object || plugin_info_of(*object)) return object;
  return std::make_shared<Guard>(std::move(object), info);
}

}  // namespace

std::shared_ptr<sdk::MemoryPolicy> guard(std::shared_ptr<sdk::MemoryPolicy> object, const PluginInfo& info) {
  return wrap<GuardedPolicy>(std::move(object), info);
}
std::shared_ptr<sdk::JobScheduler> guard(std::shared_ptr<sdk::JobScheduler> object, const PluginInfo& info) {
  return wrap<GuardedScheduler>(std::move(object), info);
}
std::shared_ptr<sdk::RecoveryStrategy> guard(std::shared_ptr<sdk::RecoveryStrategy> object,
                                             const PluginInfo& info) {
  return wrap<GuardedRecovery>(std::move(object), info);
}
std::shared_ptr<sdk::TilingStrategy> guard(std::shared_ptr<sdk::TilingStrategy> object,
                                           const PluginInfo& info) {
  return wrap<GuardedTiling>(std::move(object), info);
}

const PluginInfo* plugin_info_of(const sdk::Plugin& object) {
  const auto* g = dynamic_cast<const PluginGuard*>(&object);
  return g ? &g->plugin_info() : nullptr;
}

}  // namespace ftdr::framework
