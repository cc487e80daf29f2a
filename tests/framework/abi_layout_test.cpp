// The plugin ABI's layout, pinned (sdk/version.hpp). Every struct that crosses the boundary has its
// size and every field's offset asserted at compile time; every interface's virtuals have their
// vtable slot checked; the enums' last enumerators are pinned. A failure here means a change moved
// something a built plugin relies on: that is an ABI MAJOR bump, unless it is one of the four
// MINOR changes version.hpp lists (then update the numbers here, bump the minor, add the history).
// The numbers are those of the toolchain plugin.hpp requires (LP64, libstdc++ with the C++11 ABI).
#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "ftdr/sdk/sdk.hpp"

namespace ftdr::sdk {
namespace {

#if defined(__LP64__) && defined(__GLIBCXX__) && _GLIBCXX_USE_CXX11_ABI
#define FTDR_LAYOUT_PINNED 1
// offsetof on structs holding std::string is conditionally supported; GCC and Clang support it.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Winvalid-offsetof"
#define PIN_SIZE(T, n) static_assert(sizeof(T) == (n), #T ": size changed (sdk/version.hpp)")
#define PIN_AT(T, f, n) static_assert(offsetof(T, f) == (n), #T "::" #f ": offset changed (sdk/version.hpp)")

PIN_SIZE(PluginDescriptor, 40);
PIN_AT(PluginDescriptor, abi_major, 0);
PIN_AT(PluginDescriptor, abi_minor, 4);
PIN_AT(PluginDescriptor, kind, 8);
PIN_AT(PluginDescriptor, name, 16);
PIN_AT(PluginDescriptor, version, 24);
PIN_AT(PluginDescriptor, summary, 32);

PIN_SIZE(PluginContext, 72);
PIN_AT(PluginContext, config, 0);
PIN_AT(PluginContext, logger, 16);
PIN_AT(PluginContext, state_dir, 32);
PIN_AT(PluginContext, check_only, 64);  // 1.4, rule 4

PIN_SIZE(GenerationRequest, 216);
PIN_AT(GenerationRequest, prompt, 0);
PIN_AT(GenerationRequest, negative_prompt, 32);
PIN_AT(GenerationRequest, width, 64);
PIN_AT(GenerationRequest, height, 68);
PIN_AT(GenerationRequest, steps, 72);
PIN_AT(GenerationRequest, cfg_scale, 80);
PIN_AT(GenerationRequest, sampler, 88);
PIN_AT(GenerationRequest, seed, 120);
PIN_AT(GenerationRequest, batch, 128);
PIN_AT(GenerationRequest, eta, 136);
PIN_AT(GenerationRequest, clip_skip, 144);
PIN_AT(GenerationRequest, output_dir, 152);
PIN_AT(GenerationRequest, output_prefix, 184);

PIN_SIZE(RuntimeOptions, 16);
PIN_AT(RuntimeOptions, attention, 0);
PIN_AT(RuntimeOptions, attention_slice_size, 4);
PIN_AT(RuntimeOptions, vae_tiling, 8);
PIN_AT(RuntimeOptions, upcast_vae, 9);
PIN_AT(RuntimeOptions, dtype, 12);

PIN_SIZE(GenerationParams, 248);
PIN_AT(GenerationParams, request, 0);
PIN_AT(GenerationParams, options, 216);
PIN_AT(GenerationParams, first_image, 232);
PIN_AT(GenerationParams, batch, 236);
PIN_AT(GenerationParams, width, 240);
PIN_AT(GenerationParams, height, 244);

PIN_SIZE(ComponentInfo, 48);
PIN_AT(ComponentInfo, name, 0);
PIN_AT(ComponentInfo, bytes, 32);
PIN_AT(ComponentInfo, location, 40);

PIN_SIZE(MemoryStats, 56);
PIN_AT(MemoryStats, device, 0);
PIN_AT(MemoryStats, total_bytes, 8);
PIN_AT(MemoryStats, free_bytes, 16);
PIN_AT(MemoryStats, allocated_bytes, 24);
PIN_AT(MemoryStats, reserved_bytes, 32);
PIN_AT(MemoryStats, peak_bytes, 40);
PIN_AT(MemoryStats, rss_bytes, 48);

PIN_SIZE(Image, 32);
PIN_AT(Image, width, 0);
PIN_AT(Image, height, 4);
PIN_AT(Image, rgb, 8);

PIN_SIZE(ModelInfo, 144);
PIN_AT(ModelInfo, name, 0);
PIN_AT(ModelInfo, family, 32);
PIN_AT(ModelInfo, default_sampler, 64);
PIN_AT(ModelInfo, prediction_type, 96);
PIN_AT(ModelInfo, vae_scale_factor, 128);
PIN_AT(ModelInfo, latent_channels, 132);
PIN_AT(ModelInfo, default_size, 136);
PIN_AT(ModelInfo, dtype, 140);

PIN_SIZE(StepEvent, 32);
PIN_AT(StepEvent, step, 0);
PIN_AT(StepEvent, total, 4);
PIN_AT(StepEvent, step_ms, 8);
PIN_AT(StepEvent, finite, 16);
PIN_AT(StepEvent, latents, 24);

PIN_SIZE(PlacementRequest, 152);
PIN_AT(PlacementRequest, next, 0);
PIN_AT(PlacementRequest, needed, 8);
PIN_AT(PlacementRequest, components, 32);
PIN_AT(PlacementRequest, memory, 56);
PIN_AT(PlacementRequest, budget_bytes, 112);
PIN_AT(PlacementRequest, estimated_activation_bytes, 120);
PIN_AT(PlacementRequest, estimated_activation_bytes_sliced, 128);
PIN_AT(PlacementRequest, options, 136);

PIN_SIZE(Placement, 104);
PIN_AT(Placement, on_device, 0);
PIN_AT(Placement, on_cpu, 24);
PIN_AT(Placement, options, 48);
PIN_AT(Placement, release_cache, 64);
PIN_AT(Placement, reason, 72);

PIN_SIZE(Failure, 48);
PIN_AT(Failure, kind, 0);
PIN_AT(Failure, phase, 4);
PIN_AT(Failure, step, 8);
PIN_AT(Failure, message, 16);

PIN_SIZE(Attempt, 96);
PIN_AT(Attempt, number, 0);
PIN_AT(Attempt, failure, 8);
PIN_AT(Attempt, change, 56);
PIN_AT(Attempt, delay_ms, 88);

PIN_SIZE(RecoveryDecision, 336);
PIN_AT(RecoveryDecision, retry, 0);
PIN_AT(RecoveryDecision, resume_phase, 4);
PIN_AT(RecoveryDecision, params, 8);
PIN_AT(RecoveryDecision, split_batch, 256);
PIN_AT(RecoveryDecision, degraded, 257);
PIN_AT(RecoveryDecision, delay_ms, 264);
PIN_AT(RecoveryDecision, change, 272);
PIN_AT(RecoveryDecision, reason, 304);

PIN_SIZE(QueueEntry, 32);
PIN_AT(QueueEntry, job_id, 0);
PIN_AT(QueueEntry, priority, 8);
PIN_AT(QueueEntry, sequence, 16);
PIN_AT(QueueEntry, submitted_ms, 24);

PIN_SIZE(RunnerInfo, 144);  // 1.4
PIN_AT(RunnerInfo, name, 0);
PIN_AT(RunnerInfo, host, 32);
PIN_AT(RunnerInfo, pid, 64);
PIN_AT(RunnerInfo, state, 72);
PIN_AT(RunnerInfo, job, 104);
PIN_AT(RunnerInfo, jobs_done, 112);
PIN_AT(RunnerInfo, started_ms, 120);
PIN_AT(RunnerInfo, last_seen_ms, 128);
PIN_AT(RunnerInfo, restarts, 136);

PIN_SIZE(TileRequest, 24);
PIN_AT(TileRequest, latent_height, 0);
PIN_AT(TileRequest, latent_width, 4);
PIN_AT(TileRequest, scale, 8);
PIN_AT(TileRequest, memory_hint_bytes, 16);

PIN_SIZE(Tile, 40);
PIN_AT(Tile, y, 0);
PIN_AT(Tile, x, 4);
PIN_AT(Tile, height, 8);
PIN_AT(Tile, width, 12);
PIN_AT(Tile, weight, 16);

PIN_SIZE(TilePlan, 40);
PIN_AT(TilePlan, scale, 0);
PIN_AT(TilePlan, tile_size, 4);
PIN_AT(TilePlan, overlap, 8);
PIN_AT(TilePlan, tiles, 16);
// Rule 3's struct grows only at its end: its last field is the newest.
static_assert(offsetof(ModelInfo, dtype) + sizeof(DType) == sizeof(ModelInfo),
              "ModelInfo: grow at the end only");
#pragma GCC diagnostic pop
#endif

// A new, removed or reordered enumerator is a MAJOR bump: pin each enum's last one.
static_assert(static_cast<int>(PluginKind::queue) == 5, "PluginKind changed");  // queue: 1.3, rule 5
static_assert(static_cast<int>(ErrorKind::internal) == 8, "ErrorKind changed");
static_assert(static_cast<int>(Phase::decoding) == 3, "Phase changed");
static_assert(static_cast<int>(Device::cuda) == 1, "Device changed");
static_assert(static_cast<int>(DType::bf16) == 2, "DType changed");
static_assert(static_cast<int>(AttentionMode::automatic) == 3, "AttentionMode changed");
static_assert(static_cast<int>(Priority::low) == 3, "Priority changed");
static_assert(static_cast<int>(LogLevel::error) == 4, "LogLevel changed");
static_assert(sizeof(PluginKind) == 4 && sizeof(ErrorKind) == 4 && sizeof(DType) == 4, "enum size changed");

// The vtable slot of a virtual member function, read from its pointer-to-member (Itanium C++ ABI
// on x86-64: the pointer holds 1 + the slot's byte offset).
template <typename Pmf>
std::ptrdiff_t slot(Pmf pmf) {
  static_assert(sizeof(Pmf) == 2 * sizeof(std::ptrdiff_t), "not an Itanium pointer to member function");
  std::ptrdiff_t words[2];
  std::memcpy(words, &pmf, sizeof words);
  return (words[0] - 1) / static_cast<std::ptrdiff_t>(sizeof(void*));
}

#if defined(__x86_64__)
#define FTDR_SLOTS_CHECKED 1
#endif

// Slots 0 and 1 are the virtual destructor's (complete and deleting) in every interface.
TEST(AbiLayout, PluginImplementedInterfacesKeepTheirVtableSlots) {
#ifndef FTDR_SLOTS_CHECKED
  GTEST_SKIP() << "vtable slots are read the Itanium x86-64 way only";
#else
  int n = 2;
  for (auto s :
       {slot(&ModelBackend::load), slot(&ModelBackend::info), slot(&ModelBackend::diagnostics),
        slot(&ModelBackend::components), slot(&ModelBackend::place), slot(&ModelBackend::device),
        slot(&ModelBackend::memory_stats), slot(&ModelBackend::reset_peak_memory),
        slot(&ModelBackend::release_cached_memory), slot(&ModelBackend::estimate_activation_bytes),
        slot(&ModelBackend::validate), slot(&ModelBackend::encode), slot(&ModelBackend::denoise),
        slot(&ModelBackend::decode), slot(&ModelBackend::save_artifact), slot(&ModelBackend::load_artifact),
        slot(&ModelBackend::samplers) /* 1.2 */, slot(&ModelBackend::set_stop_observer) /* 1.2 */})
    EXPECT_EQ(s, n++) << "ModelBackend";
  n = 2;
  for (auto s : {slot(&JobScheduler::push), slot(&JobScheduler::pop_next), slot(&JobScheduler::erase),
                 slot(&JobScheduler::size), slot(&JobScheduler::snapshot)})
    EXPECT_EQ(s, n++) << "JobScheduler";
  EXPECT_EQ(slot(&MemoryPolicy::place), 2);
  EXPECT_EQ(slot(&RecoveryStrategy::decide), 2);
  EXPECT_EQ(slot(&TilingStrategy::plan), 2);
  n = 2;
  for (auto s : {slot(&Artifact::kind), slot(&Artifact::bytes), slot(&Artifact::steps_done)})
    EXPECT_EQ(s, n++) << "Artifact";
  n = 2;
  for (auto s :
       {slot(&JobQueue::enqueue), slot(&JobQueue::remove), slot(&JobQueue::job), slot(&JobQueue::jobs),
        slot(&JobQueue::cancel), slot(&JobQueue::forget_finished), slot(&JobQueue::depth),
        slot(&JobQueue::watch), slot(&JobQueue::claim), slot(&JobQueue::renew), slot(&JobQueue::report),
        slot(&JobQueue::set_job_dir), slot(&JobQueue::complete), slot(&JobQueue::release),
        slot(&JobQueue::put_blob), slot(&JobQueue::get_blob), slot(&JobQueue::blob_names),
        slot(&JobQueue::announce) /* 1.4 */, slot(&JobQueue::runners) /* 1.4 */})
    EXPECT_EQ(s, n++) << "JobQueue";
#endif
}

TEST(AbiLayout, HostImplementedInterfacesKeepTheirVtableSlots) {
#ifndef FTDR_SLOTS_CHECKED
  GTEST_SKIP() << "vtable slots are read the Itanium x86-64 way only";
#else
  EXPECT_EQ(slot(&StepObserver::on_step), 2);
  EXPECT_EQ(slot(&StepObserver::check_stop), 3);  // 1.2, appended (rule 1)
  int n = 2;
  for (auto s : {slot(&ConfigView::has), slot(&ConfigView::get_string), slot(&ConfigView::get_int),
                 slot(&ConfigView::get_double), slot(&ConfigView::get_bool),
                 slot(&ConfigView::get_string_list), slot(&ConfigView::table), slot(&ConfigView::keys),
                 slot(&ConfigView::where), slot(&ConfigView::reject)})
    EXPECT_EQ(s, n++) << "ConfigView";
  EXPECT_EQ(slot(&Logger::log), 2);
  EXPECT_EQ(slot(&Logger::enabled), 3);
#endif
}

}  // namespace
}  // namespace ftdr::sdk
