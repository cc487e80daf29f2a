// Recovery action names (see recovery_action.hpp).
#include "recovery_action.hpp"

namespace ftdr::host::serve {

namespace {

struct Prefix {
  const char* text;    // how the progressive plugin's change text starts (oom_ladder.cpp,
  const char* action;  // progressive_recovery.cpp)
};

constexpr Prefix kPrefixes[] = {
    {"offload the other components", "offload"},
    {"attention slicing on", "slicing"},
    {"smaller attention slices", "smaller_slices"},
    {"batch ", "split_batch"},
    {"resolution ", "reduce_resolution"},
    {"VAE tiling on", "tiling"},
    {"VAE upcast to f32", "upcast_vae"},
    {"dtype ", "upcast_dtype"},
};

bool starts_with(const std::string& text, const std::string& head) { return text.rfind(head, 0) == 0; }

bool contains(const std::string& text, const char* part) { return text.find(part) != std::string::npos; }

}  // namespace

std::string recovery_action(const std::string& change) {
  if (change.empty()) return "";
  for (const auto& p : kPrefixes)
    if (starts_with(change, p.text)) return p.action;
  if (starts_with(change, "retry ")) {
    if (contains(change, " as is ")) return "retry_as_is";
    if (contains(change, " after device cleanup ")) return "retry_after_device_cleanup";
    return "retry";
  }
  return "other";
}

}  // namespace ftdr::host::serve
