// ftdr/sdk/memory_policy.hpp: memory policies decide what lives on the device during each phase.
//
// Before every phase the engine asks the policy where each component goes and which memory-saving
// options to switch on; the backend carries the answer out (moves, then runs the phase). Policies
// see only numbers: component sizes, device memory, the job's estimate and the configured budget.
// Called from worker threads, one call at a time per plugin object.
//
//   Placement place(const PlacementRequest& r) override {   // everything on the device
//     Placement p; p.options = r.options;
//     for (auto& c : r.components) p.on_device.push_back(c.name);
//     return p;
//   }
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "ftdr/sdk/plugin.hpp"
#include "ftdr/sdk/types.hpp"

namespace ftdr::sdk {

struct PlacementRequest {
  Phase next = Phase::encoding;
  std::vector<std::string> needed;               // components the phase runs: {"unet"} for diffusion
  std::vector<ComponentInfo> components;         // all components, with their current location
  MemoryStats memory;                            // right now
  std::uint64_t budget_bytes = 0;                // [memory] device_budget_mb; 0 = the device's free memory
  std::uint64_t estimated_activation_bytes = 0;  // the job's estimate for this phase at `options`
  std::uint64_t estimated_activation_bytes_sliced = 0;  // the same with attention slicing on
  RuntimeOptions options;                               // the options the phase would run with
};

struct Placement {
  std::vector<std::string> on_device;  // move these to the device (needed ones must be here)
  std::vector<std::string> on_cpu;     // move these to the CPU first
  RuntimeOptions options;              // possibly with slicing/tiling switched on
  bool release_cache = true;           // empty caches after moving to the CPU
  std::string reason;                  // one line for the log and the job's metrics
};

class FTDR_SDK_INTERFACE MemoryPolicy : public Plugin {
 public:
  // Required. Components absent from both lists stay where they are.
  virtual Placement place(const PlacementRequest& request) = 0;
};

template <>
struct plugin_interface<PluginKind::memory_policy> {
  using type = MemoryPolicy;
};

}  // namespace ftdr::sdk
