#!/usr/bin/env bash
# Configures and builds FTDR (Release) into build/release. Extra arguments go to the build step,
# e.g. `scripts/build.sh --target ftdr`. BUILD_DIR and FTDR_CMAKE_ARGS override the defaults.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build/release}
jobs=${FTDR_JOBS:-$(nproc)}
export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/ccache}
# Paths relative to the checkout, so clones in other folders share cached objects.
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$root}
if [ ! -f "$build/build.ninja" ]; then
  # shellcheck disable=SC2086
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release ${FTDR_CMAKE_ARGS:-}
fi
cmake --build "$build" -j "$jobs" "$@"
