// tests/common/abi_text.hpp: an SDK ABI version as the host prints it ("1.1"), so the tests that
// read `ftdr plugins` and refusal messages follow an ABI bump instead of spelling the number.
#pragma once
#include <string>

#include "ftdr/sdk/version.hpp"

namespace ftdr::test {

inline std::string abi_text(unsigned major = sdk::kAbiMajor, unsigned minor = sdk::kAbiMinor) {
  return std::to_string(major) + "." + std::to_string(minor);
}

}  // namespace ftdr::test
