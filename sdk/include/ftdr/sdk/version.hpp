// ftdr/sdk/version.hpp: the SDK's ABI version, the one number pair a plugin and the host compare.
//
// The boundary is C++ classes and plain structs (not C functions and opaque handles as in Triton),
// so "compatible" only holds for the changes listed below. Every plugin says which ABI it was built
// for (PluginDescriptor); the host keeps that (major, minor) with every object it makes from the
// plugin (framework/plugin_guard.hpp) and uses it to decide what it may read and call.
//
// Loading: the host loads a plugin built for the same MAJOR and a MINOR no newer than its own; any
// other plugin is refused with a message naming the file and both versions, and the host carries on.
//
// A change is a MINOR bump only when it is one of these (each note says why it stays compatible):
//   1. A new virtual at the END of a host-implemented interface (StepObserver, ConfigView, Logger).
//      A plugin is only loaded by a host of the same or a newer minor, so the host's vtable always
//      has every slot the plugin can call.
//   2. A new optional virtual at the END of a plugin-implemented interface (ModelBackend,
//      MemoryPolicy, JobScheduler, RecoveryStrategy, TilingStrategy, Artifact, JobQueue), with a
//      default body, never pure. The host calls it only on plugins whose minor has it: an older
//      plugin's vtable lacks the slot.
//   3. A new trivially destructible field at the END of ModelInfo, the one struct a plugin returns
//      by value on its own (never inside a vector or another struct). The host allocates it, so an
//      older plugin leaves the new field unset; the host reads it only from plugins whose minor has
//      it and uses the documented default otherwise.
//   4. A new field at the END of PluginContext, which only the host creates and which a plugin only
//      reads (by reference).
//   5. A new plugin kind: a PluginKind enumerator at the END, with its own interface header. Only
//      plugins of that kind use it, and they are built for the minor that has it, so an older host
//      refuses them by their minor before it reads the kind; older plugins never name it.
// Everything else is a MAJOR bump: any change to a struct copied by both sides or held in a vector
// (GenerationRequest, RuntimeOptions, GenerationParams, StepEvent, ComponentInfo, MemoryStats, Image,
// Tile, TilePlan, TileRequest, PlacementRequest, Placement, Failure, Attempt, RecoveryDecision,
// QueueEntry, QueuedJob, Lease, QueueEvent, QueueDepth, RunnerInfo, PluginDescriptor); a field that
// is not at the end, or that shifts one inside another struct (RuntimeOptions sits inside
// GenerationParams); a new, removed or reordered enumerator (but rule 5); removing or reordering a
// virtual; changing what a call means.
// tests/framework/abi_layout_test.cpp pins sizeof/offsetof of every boundary struct and the last
// enumerators: when it fails, the change is a MAJOR bump, or one of the five above (then update the
// test, bump the minor and add the history line).
//
// History:
//   1.0 first release.
//   1.1 ModelInfo::dtype (rule 3; read from >= 1.1 backends only, f32 otherwise): the host starts
//       RuntimeOptions::dtype from it, and a backend honours RuntimeOptions::dtype = f32 as "run
//       this phase in f32".
//   1.2 ModelBackend::samplers() (rule 2; asked of >= 1.2 backends only): the sampler names the
//       backend accepts, which the host checks requests against. StepObserver::check_stop() (rule
//       1): the backend asks between network blocks whether to stop. ModelBackend::
//       set_stop_observer() (rule 2; called on >= 1.2 backends only): the observer encode() and
//       decode() ask the same between their blocks.
//   1.3 PluginKind::queue and sdk/queue.hpp (rule 5): JobQueue plugins, chosen by [queue] plugin,
//       keep a server's jobs and lease them to runners (`local`: SQLite; `redis`: Redis Streams).
//       QueuedJob, Lease, QueueEvent and QueueDepth are frozen from 1.3 like the structs above.
//   1.4 JobQueue::announce() and JobQueue::runners() (rule 2; called on >= 1.4 queues only): a
//       registry of the runners using a queue (GET /v1/workers, `ftdr workers`). RunnerInfo is
//       frozen from 1.4 like the structs above. PluginContext::check_only (rule 4; set for >= 1.4
//       queue plugins only): `ftdr check-config` has a queue read its table and open nothing.
#pragma once

#define FTDR_SDK_ABI_MAJOR 1
#define FTDR_SDK_ABI_MINOR 4

namespace ftdr::sdk {
inline constexpr unsigned kAbiMajor = FTDR_SDK_ABI_MAJOR;
inline constexpr unsigned kAbiMinor = FTDR_SDK_ABI_MINOR;

// The minor in which each optional part of the ABI appeared (rules 2 and 3 above).
inline constexpr unsigned kAbiMinorModelInfoDtype = 1;
inline constexpr unsigned kAbiMinorBackendSamplers = 2;
inline constexpr unsigned kAbiMinorBackendStopObserver = 2;
inline constexpr unsigned kAbiMinorQueuePlugins = 3;
inline constexpr unsigned kAbiMinorQueueRunners = 4;
inline constexpr unsigned kAbiMinorContextCheckOnly = 4;
}  // namespace ftdr::sdk
