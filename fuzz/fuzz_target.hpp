// fuzz/fuzz_target.hpp: a fuzz target is one function over bytes, used twice.
//
//   FTDR_FUZZ_TARGET(request_json) { ... parse data[0, size) ... }
//
// In a fuzzer executable (built with FTDR_FUZZER_MAIN, clang -fsanitize=fuzzer) it is libFuzzer's
// LLVMFuzzerTestOneInput; in ftdr_parsing_tests (replay_test.cpp) every committed seed and crash
// input under fuzz/corpus/<target>/ runs through it, with any compiler and sanitizer. A target
// returns normally for input the parser refuses with sdk::Error; anything else that escapes (another
// exception type), a sanitizer report, or a broken promise checked with FTDR_FUZZ_CHECK is a bug.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#define FTDR_FUZZ_DECLARE(name) void ftdr_fuzz_##name(const std::uint8_t* data, std::size_t size)

#ifdef FTDR_FUZZER_MAIN
#define FTDR_FUZZ_ENTRY(name)                                                         \
  extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) { \
    ftdr_fuzz_##name(data, size);                                                     \
    return 0;                                                                         \
  }
#else
#define FTDR_FUZZ_ENTRY(name)
#endif

#define FTDR_FUZZ_TARGET(name) \
  FTDR_FUZZ_DECLARE(name);     \
  FTDR_FUZZ_ENTRY(name)        \
  FTDR_FUZZ_DECLARE(name)

// A promise the parser makes about what it accepted; a broken one aborts like a crash.
#define FTDR_FUZZ_CHECK(condition, what)                                                       \
  do {                                                                                         \
    if (!(condition)) {                                                                        \
      std::fprintf(stderr, "%s:%d: broken promise: %s (%s)\n", __FILE__, __LINE__, #condition, \
                   std::string(what).c_str());                                                 \
      std::abort();                                                                            \
    }                                                                                          \
  } while (0)

namespace ftdr::fuzz {

inline std::string text(const std::uint8_t* data, std::size_t size) {
  return std::string(reinterpret_cast<const char*>(data), size);
}

}  // namespace ftdr::fuzz
