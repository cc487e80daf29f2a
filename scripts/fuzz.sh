#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/, clang with -fsanitize=fuzzer,address,undefined) in build/fuzz
# and runs each for SECONDS (default 30) from its committed seeds (fuzz/corpus/<target>/). Fails on
# the first crash, leak, sanitizer report or broken promise; libFuzzer writes the input as
# build/fuzz/artifacts/<target>/crash-*. Commit that file to fuzz/corpus/<target>/ with the fix:
# ftdr_parsing_tests replays it from then on. Usage: scripts/fuzz.sh [SECONDS] [TARGET...]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-30}
shift || true
build=$root/build/fuzz  # the `fuzz` preset's folder (CMakePresets.json)
jobs=${FTDR_JOBS:-$(nproc)}
export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/ccache}
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$root}
if [ ! -f "$build/build.ninja" ]; then
  # shellcheck disable=SC2086
  (cd "$root" && cmake --preset fuzz ${FTDR_CMAKE_ARGS:-})
fi
cmake --build "$build" -j "$jobs" --target ftdr_fuzzers

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for dir in "$root"/fuzz/corpus/*/; do targets+=("$(basename "$dir")"); done
fi
# halt_on_error and abort: a UBSan report is a crash, as it is in the replay tests.
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:abort_on_error=1:print_stacktrace=1}
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}
# One target per core at a time (libFuzzer runs one thread): on 2 cores the CI step takes half as long.
fuzz_one() {
  local target=$1
  # New inputs go to a scratch corpus: the committed seeds stay small and reviewed.
  local work="$build/corpus/$target" artifacts="$build/artifacts/$target"
  mkdir -p "$work" "$artifacts"
  "$build/fuzz/${target}_fuzzer" -max_total_time="$seconds" -max_len=16384 -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$artifacts/" "$work" "$root/fuzz/corpus/$target" 2>"$build/$target.log" ||
    { tail -n 60 "$build/$target.log"; echo "fuzz: $target FAILED (input in $artifacts/)"; return 1; }
  echo "fuzz: $target for ${seconds}s: $(grep -E '^stat::number_of_executed_units|^Done' "$build/$target.log" | tr '\n' ' ')"
}
running=() failed=0
for target in "${targets[@]}"; do
  fuzz_one "$target" &
  running+=($!)
  if [ ${#running[@]} -ge "$jobs" ]; then
    wait "${running[0]}" || failed=1
    running=("${running[@]:1}")
  fi
done
for pid in "${running[@]}"; do wait "$pid" || failed=1; done
[ "$failed" = 0 ] || { echo "fuzz: a target failed (above)"; exit 1; }
echo "fuzz: ${#targets[@]} targets, ${seconds}s each, no crash"
