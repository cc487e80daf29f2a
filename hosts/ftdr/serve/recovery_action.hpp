// hosts/ftdr/serve/recovery_action.hpp: a short, stable name for what a recovery changed, for the
// `action` label of /metrics' ftdr_recoveries_total.
//
// An attempt's history records what the next attempt changed as text (sdk::Attempt::change, e.g.
// "attention slicing on (slice size: 128 query rows)"); a metric label needs a fixed set of values.
// The names are the progressive recovery plugin's: its OOM ladder rungs as configured in
// [recovery.progressive] *_oom_ladder (offload, slicing, smaller_slices, split_batch,
// reduce_resolution, tiling) and its other decisions (upcast_vae, upcast_dtype, retry_as_is,
// retry_after_device_cleanup, retry). A change text of another recovery plugin is "other".
#pragma once
#include <string>

namespace ftdr::host::serve {

// "" (the job gave up: no recovery) gives "".
std::string recovery_action(const std::string& change);

}  // namespace ftdr::host::serve
