// adapter/error_classifier.hpp: turns whatever a libtorch call threw into one sdk::Error kind.
//
// Every backend phase runs inside run_classified(), so recovery strategies always see a kind:
//   - sdk::Error passes through unchanged (our own checks, observer cancellation/timeout);
//   - c10::OutOfMemoryError, std::bad_alloc, and any c10::Error whose text says "out of memory"
//     or that the CPU allocator "can't allocate memory" -> out_of_memory;
//   - other c10::Error mentioning CUDA / cuDNN / cuBLAS / "device-side" -> device_error. The
//     message says whether the fault is sticky ("illegal memory access", "device-side assert",
//     "unspecified launch failure", ...): then the CUDA context is lost and only a new process
//     can use the device again;
//   - any other c10::Error -> internal (a shape bug in our code), std::exception -> internal.
//
//   auto cond = run_classified("encode", [&] { return encode_impl(params); });
#pragma once
#include <exception>
#include <string>
#include <utility>

#include "ftdr/sdk/error.hpp"

namespace ftdr::torchbe {

// Classifies the exception in `error` (thrown during `phase`) into an sdk::Error.
sdk::Error classify_exception(std::exception_ptr error, const std::string& phase);

// Classifies a message alone (what c10::Error::what_without_backtrace() says).
sdk::ErrorKind classify_message(const std::string& message);

// True when the message names a CUDA fault after which the context is unusable.
bool is_sticky_device_fault(const std::string& message);

template <class Fn>
auto run_classified(const std::string& phase, Fn&& fn) -> decltype(fn()) {
  try {
    return std::forward<Fn>(fn)();
  } catch (const sdk::Error&) {
    throw;
  } catch (...) {
    throw classify_exception(std::current_exception(), phase);
  }
}

}  // namespace ftdr::torchbe
