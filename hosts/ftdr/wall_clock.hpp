// hosts/ftdr/wall_clock.hpp: wall-clock milliseconds since the Unix epoch, the time the job journal
// and the queue plugins store (sdk/queue.hpp: times cross machines, so not the steady clock).
#pragma once
#include <chrono>
#include <cstdint>

namespace ftdr::host {

inline std::int64_t wall_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

}  // namespace ftdr::host
