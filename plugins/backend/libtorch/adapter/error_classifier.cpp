// backend/error_classifier.cpp: see error_classifier.h for the rules.
#include "adapter/error_classifier.hpp"

#include <algorithm>
#include <cctype>
#include <initializer_list>
#include <new>

#include <c10/util/Exception.h>

namespace ftdr::torchbe {
namespace {

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  return text;
}

bool contains_any(const std::string& lowered, std::initializer_list<const char*> needles) {
  return std::any_of(needles.begin(), needles.end(),
                     [&](const char* n) { return lowered.find(n) != std::string::npos; });
}

// c10 messages carry a C++ backtrace after the first lines; keep the part a user can read.
std::string first_lines(const std::string& text, std::size_t max_chars = 600) {
  std::string out = text.substr(0, std::min(text.size(), max_chars));
  if (out.size() < text.size()) out += " ...";
  return out;
}

}  // namespace

bool is_sticky_device_fault(const std::string& message) {
  return contains_any(
      lower(message),
      {"illegal memory access", "device-side assert", "unspecified launch failure", "misaligned address",
       "illegal instruction", "launch timed out", "hardware stack error", "uncorrectable ecc"});
}

sdk::ErrorKind classify_message(const std::string& message) {
  const std::string text = lower(message);
  if (contains_any(text, {"out of memory", "can't allocate memory", "cannot allocate memory",
                          "cublas_status_alloc_failed", "cudnn_status_alloc_failed"}))
    return sdk::ErrorKind::out_of_memory;
  if (contains_any(text, {"cuda", "cudnn", "cublas", "device-side", "nccl", "cufft", "curand"}))
    return sdk::ErrorKind::device_error;
  return sdk::ErrorKind::internal;
}

sdk::Error classify_exception(std::exception_ptr error, const std::string& phase) {
  const std::string where = "libtorch backend, " + phase + ": ";
  try {
    std::rethrow_exception(error);
  } catch (const sdk::Error& e) {
    return e;
  } catch (const c10::OutOfMemoryError& e) {
    return sdk::Error(sdk::ErrorKind::out_of_memory, where + first_lines(e.what_without_backtrace()));
  } catch (const c10::Error& e) {
    const std::string message = e.what_without_backtrace();
    const sdk::ErrorKind kind = classify_message(message);
    std::string text = where + first_lines(message);
    if (kind == sdk::ErrorKind::device_error) {
      text += is_sticky_device_fault(message)
                  ? " [sticky: the CUDA context is lost; the device is unusable until the process restarts]"
                  : " [not sticky: the device can be used again]";
    }
    return sdk::Error(kind, text);
  } catch (const std::bad_alloc& e) {
    return sdk::Error(sdk::ErrorKind::out_of_memory, where + "host allocation failed (" + e.what() + ")");
  } catch (const std::exception& e) {
    return sdk::Error(classify_message(e.what()) == sdk::ErrorKind::out_of_memory
                          ? sdk::ErrorKind::out_of_memory
                          : sdk::ErrorKind::internal,
                      where + first_lines(e.what()));
  } catch (...) {
    return sdk::Error(sdk::ErrorKind::internal, where + "unknown exception");
  }
}

}  // namespace ftdr::torchbe
