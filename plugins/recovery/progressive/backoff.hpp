// backoff.h: the delay before a retry: exponential backoff with seeded jitter.
//
//   delay(n) = min(backoff_max_ms, backoff_initial_ms * 2^(n-1)) * (1 - jitter * U),  U in [0, 1)
//
// n is the retry's number (1 for the first retry). U is not drawn from a generator shared by all
// jobs (whose order depends on timing) but computed from (seed, the request's seed, n) with the
// SplitMix64 mixer: a job's delays are reproducible run after run, and jobs with different request
// seeds get different delays, which is what jitter is for.
#pragma once
#include <cstdint>

#include "progressive_settings.hpp"

namespace ftdr::plugins {

// U in [0, 1) for retry n of a request with seed `request_seed`.
double jitter_unit(std::uint64_t seed, std::uint64_t request_seed, int n);

// The delay in milliseconds, rounded to the nearest millisecond.
std::int64_t backoff_delay_ms(const ProgressiveSettings& s, std::uint64_t request_seed, int n);

}  // namespace ftdr::plugins
