// plugin.cpp: the `local` queue's factory and declaration (local_queue.hpp).
#include <memory>

#include "ftdr/sdk/plugin.hpp"
#include "local_queue.hpp"

namespace {

std::unique_ptr<ftdr::sdk::JobQueue> make(const ftdr::sdk::PluginContext& ctx) {
  namespace lq = ftdr::plugins::local_queue;
  lq::LocalQueueSettings settings =
      ctx.config ? lq::LocalQueueSettings::read(*ctx.config, ctx.state_dir) : lq::LocalQueueSettings{};
  if (!ctx.config) settings.file = std::filesystem::path(ctx.state_dir) / "journal.sqlite";
  if (ctx.check_only) return nullptr;  // `ftdr check-config`: the table is read; no journal opened
  return std::make_unique<lq::LocalQueue>(std::move(settings), ctx.logger);
}

}  // namespace

FTDR_DECLARE_PLUGIN(queue, "local", "1.0.0",
                    "the server's jobs in one SQLite file (WAL, synchronous=FULL), leased to its own runners",
                    make)
