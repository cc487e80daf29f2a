// io/key_text.hpp: prefix and suffix tests on weight keys ("model.diffusion_model.", ".alpha"),
// which C++17's std::string lacks. One definition for every file that maps keys.
#pragma once
#include <string>

namespace ftdr::torchbe {

inline bool starts_with(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

inline bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace ftdr::torchbe
