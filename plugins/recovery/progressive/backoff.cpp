// backoff.cpp: see backoff.h.
#include "backoff.hpp"

#include <algorithm>
#include <cmath>

namespace ftdr::plugins {
namespace {

// SplitMix64 (Steele, Lea, Flood 2014): a fast bijective mixer whose outputs pass BigCrush.
std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

}  // namespace

double jitter_unit(std::uint64_t seed, std::uint64_t request_seed, int n) {
  const std::uint64_t h =
      splitmix64(splitmix64(splitmix64(seed) ^ request_seed) ^ static_cast<std::uint64_t>(n));
  return static_cast<double>(h >> 11) * 0x1.0p-53;  // the top 53 bits: uniform in [0, 1)
}

std::int64_t backoff_delay_ms(const ProgressiveSettings& s, std::uint64_t request_seed, int n) {
  // 2^(n-1) in double saturates harmlessly; the min() keeps the result at most backoff_max_ms.
  const double exponential = static_cast<double>(s.backoff_initial_ms) * std::pow(2.0, std::max(0, n - 1));
  const double base = std::min(static_cast<double>(s.backoff_max_ms), exponential);
  const double u = s.jitter > 0.0 ? jitter_unit(s.seed, request_seed, n) : 0.0;
  return std::llround(base * (1.0 - s.jitter * u));
}

}  // namespace ftdr::plugins
