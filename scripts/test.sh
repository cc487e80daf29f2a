#!/usr/bin/env bash
# The README's test command: installs what is missing, builds everything (code and tests together),
# and runs every test with CTest. Parity tests skip, naming the folder, when ../shared/reference is
# absent (a user's fresh clone); CI has it. Then, unless FTDR_QUICK=1:
#   - ASan+UBSan: the suites that need no libtorch (framework, plugins, integration, parsing) built
#     with the `asan` preset (build/asan) and run again;
#   - fuzzing: every fuzz target for FTDR_FUZZ_SECONDS (default 10) s, one per core at a time
#     (scripts/fuzz.sh, build/fuzz).
#   - style: every C++ file is as clang-format leaves it (scripts/format.sh --check, seconds).
#   - libtorch 2.x: the backend and its suites again, built against PyPI's torch (pinned in
#     scripts/setup-libtorch2.sh; the wheel, 0.8 GB, is downloaded once) as unity batches
#     (preset `torch2`, build/torch2). FTDR_TORCH2=0 skips it.
# FTDR_WERROR=ON (CI sets it) makes every warning an error.
# Every build here is in unity batches (FTDR_UNITY_BUILD, CMakeLists.txt; the asan, fuzz and torch2
# presets set it), so that an empty ccache costs minutes, not most of an hour. FTDR_UNITY=0 builds
# the release and asan folders file by file (what `scripts/build.sh` alone does), which checks that
# each file includes what it uses. Figures from an empty ccache: README, "Tests".
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
werror=${FTDR_WERROR:-OFF}
unity=ON
[ "${FTDR_UNITY:-1}" = 1 ] || unity=OFF
jobs=${FTDR_JOBS:-$(nproc)}
export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/ccache}
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$root}
"$root/scripts/setup-deps.sh"
"$root/scripts/test-clients.sh"  # the Python packages of the client tests (build/venv-clients)
# Tests run side by side (ctest -j), each process with its own OpenMP threads (libtorch's); OpenMP's
# default is to spin while waiting, which steals the other test's core. Sleeping instead measured
# (this 2-core machine): main suite 577 -> 478 s; the libtorch 2.x suite at -j2 193 s where -j1
# took 314 s. Only the tests: `ftdr` itself runs with OpenMP's default.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
build=${BUILD_DIR:-$root/build/release}
# An existing build folder keeps its cache: set the option there too.
[ ! -f "$build/build.ninja" ] || cmake "$build" -DFTDR_WERROR="$werror" -DFTDR_UNITY_BUILD=$unity >/dev/null
FTDR_CMAKE_ARGS="${FTDR_CMAKE_ARGS:-} -DFTDR_WERROR=$werror -DFTDR_UNITY_BUILD=$unity" "$root/scripts/build.sh"
(cd "$build" && ctest --output-on-failure -j "$jobs" --timeout 900)
[ "${FTDR_QUICK:-0}" = 1 ] && exit 0

step() { echo "test.sh: $1 ($(date +%T))"; }
step "clang-format check"
"$root/scripts/format.sh" --check
step "ASan+UBSan build and suites without libtorch"
start=$SECONDS
cd "$root"
cmake --preset asan -DFTDR_WERROR="$werror" -DFTDR_UNITY_BUILD=$unity >/dev/null
cmake --build --preset asan -j "$jobs"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
ctest --preset asan -j "$jobs" --timeout 900
step "ASan+UBSan took $((SECONDS - start)) s; fuzzing"
start=$SECONDS
"$root/scripts/fuzz.sh" "${FTDR_FUZZ_SECONDS:-10}"
step "fuzzing took $((SECONDS - start)) s"
[ "${FTDR_TORCH2:-1}" = 1 ] || exit 0

step "libtorch 2.x (PyPI): the backend and its suites"
start=$SECONDS
"$root/scripts/setup-libtorch2.sh" >/dev/null
cmake --preset torch2 -DFTDR_WERROR="$werror" >/dev/null
cmake --build --preset torch2 -j "$jobs" --target ftdr_backend_tests
ctest --preset torch2 -L backend -j "$jobs" --timeout 900
step "libtorch 2.x took $((SECONDS - start)) s"
