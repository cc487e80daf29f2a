// tests/common/reference.hpp: where the parity tests find ../shared/reference.
//
// FTDR_REFERENCE_DIR (env) wins; else the folder beside the checkout. A user's fresh clone has
// neither, and parity tests then skip with a message naming the folder they looked for.
#pragma once
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>

namespace ftdr::test {

inline std::filesystem::path reference_dir_candidate() {
  if (const char* env = std::getenv("FTDR_REFERENCE_DIR"); env && *env) return env;
  return FTDR_DEFAULT_REFERENCE_DIR;
}

inline std::optional<std::filesystem::path> reference_dir() {
  auto dir = reference_dir_candidate();
  if (std::filesystem::is_regular_file(dir / "README.md")) return dir;
  return std::nullopt;
}

}  // namespace ftdr::test

// Skips the current test, naming the folder, when the reference data is absent.
#define FTDR_REQUIRE_REFERENCE(var)                                                           \
  auto var##_opt = ::ftdr::test::reference_dir();                                             \
  if (!var##_opt)                                                                             \
    GTEST_SKIP() << "reference data not found at " << ::ftdr::test::reference_dir_candidate() \
                 << " (set FTDR_REFERENCE_DIR): parity test skipped";                         \
  const std::filesystem::path var = *var##_opt
