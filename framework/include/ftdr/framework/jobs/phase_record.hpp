// ftdr/framework/jobs/phase_record.hpp: what one phase run of one attempt measured.
#pragma once
#include <cstdint>
#include <string>

#include "ftdr/sdk/types.hpp"

namespace ftdr::framework {

// One phase run of one attempt: how long it took and memory before/after.
struct PhaseRecord {
  int attempt = 1;
  sdk::Phase phase = sdk::Phase::initializing;
  int first_image = 0;  // the sub-batch it ran for
  double ms = 0;
  sdk::MemoryStats before;
  sdk::MemoryStats after;        // after.peak_bytes = the phase's peak (peak reset before it)
  std::string placement_reason;  // the memory policy's reason, "" without a policy

  // The memory decision before the phase's work (memory_calibration.hpp; work phases only):
  std::uint64_t estimate_bytes = 0;             // backend activation estimate at the options the
                                                // phase was going to run with
  double calibration_ratio = 1;                 // learnt measured/estimate for that key (1 = unknown)
  std::uint64_t calibrated_estimate_bytes = 0;  // estimate_bytes x ratio: what the policy was given
  std::uint64_t budget_bytes = 0;               // the budget the policy was given (0 = device free)
  std::string memory_saving;                    // what the policy switched on: "attention slicing",
                                                // "VAE tiling", both joined by ", ", or ""
  std::string calibration_key;                  // the key the phase's measurement is learnt under
  std::uint64_t ran_estimate_bytes = 0;         // backend estimate at the options it really ran with
  std::uint64_t baseline_bytes = 0;             // RSS (CPU) / allocated (CUDA) when the work started
  std::uint64_t measured_activation_bytes = 0;  // after.peak_bytes - baseline_bytes (0 = unmeasured)
};

}  // namespace ftdr::framework
