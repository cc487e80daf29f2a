// progressive_settings.h: what the `progressive` recovery strategy reads from [recovery.progressive].
//
// Keys (all optional; defaults in brackets):
//   max_retries          int >= 0 [8]      retries per job, all kinds together; then "retries exhausted (N)"
//   backoff_initial_ms   int >= 0 [200]    delay before retry n: min(backoff_max_ms,
//   backoff_max_ms       int >= initial [5000]   backoff_initial_ms * 2^(n-1)) * (1 - jitter * U[0,1))
//   jitter               0..1 [0.2]        (backoff.h says how U is drawn)
//   seed                 int [0]           seeds the jitter
//   encoding_oom_ladder  [strings] [["offload"]]
//   diffusion_oom_ladder [strings] [["slicing", "smaller_slices", "split_batch", "reduce_resolution"]]
//   decoding_oom_ladder  [strings] [["tiling"]]
//                        what to try, in order, after an out-of-memory error in that phase; each OOM
//                        takes the first rung that still changes something (oom_ladder.h). Rungs:
//                        offload (any phase), slicing, smaller_slices, split_batch, reduce_resolution
//                        (diffusion), tiling (decoding). An empty list: give up on OOM in that phase.
//   slice_size           int >= 0 [0]      attention_slice_size set by "slicing" (0 = backend's choice)
//   small_slice_size     int >= 1 [256]    attention_slice_size set by "smaller_slices"
//   resolution_factor    0 < f < 1 [0.75]  "reduce_resolution" scales width and height by this ...
//   size_multiple        int >= 8, multiple of 8 [64]  ... rounding down to a multiple of this ...
//   min_size             int >= size_multiple [256]    ... and never below this (else not applicable)
//   numerical_retries    int >= 0 [2]      numerical_error retries per phase
//   device_error_retries int >= 0 [2]      device_error retries per job
//   timeout_retries      int >= 0 [1]      timeout retries per job
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ftdr/sdk/config_view.hpp"
#include "ftdr/sdk/types.hpp"

namespace ftdr::plugins {

// One rung of an out-of-memory ladder (oom_ladder.h says what each does and when it applies).
enum class Rung { offload, slicing, smaller_slices, split_batch, reduce_resolution, tiling };

std::string_view to_string(Rung rung);
std::optional<Rung> parse_rung(std::string_view name);
// Whether a rung can help in that phase (e.g. tiling only in decoding).
bool rung_allowed(Rung rung, sdk::Phase phase);

struct ProgressiveSettings {
  int max_retries = 8;
  std::int64_t backoff_initial_ms = 200;
  std::int64_t backoff_max_ms = 5000;
  double jitter = 0.2;
  std::uint64_t seed = 0;
  std::vector<Rung> encoding_oom_ladder{Rung::offload};
  std::vector<Rung> diffusion_oom_ladder{Rung::slicing, Rung::smaller_slices, Rung::split_batch,
                                         Rung::reduce_resolution};
  std::vector<Rung> decoding_oom_ladder{Rung::tiling};
  int slice_size = 0;
  int small_slice_size = 256;
  double resolution_factor = 0.75;
  int size_multiple = 64;
  int min_size = 256;
  int numerical_retries = 2;
  int device_error_retries = 2;
  int timeout_retries = 1;

  // The ladder for OOMs in `phase`; empty for initializing.
  const std::vector<Rung>& ladder(sdk::Phase phase) const;
};

// Reads and checks the keys above; a null view gives the defaults. Bad values are rejected through
// ConfigView::reject (Error(invalid_request) naming file, line, key and what was expected).
ProgressiveSettings read_progressive_settings(const sdk::ConfigView* config);

}  // namespace ftdr::plugins
