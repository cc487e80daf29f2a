#!/usr/bin/env bash
# The README's test command: installs what is missing, builds everything (code and tests together),
# and runs every test with CTest. Parity tests skip, naming the folder, when ../shared/reference is
# absent (a user's fresh clone); CI has it.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/setup-deps.sh"
"$root/scripts/build.sh"
build=${BUILD_DIR:-$root/build/release}
cd "$build"
ctest --output-on-failure -j "${FTDR_JOBS:-$(nproc)}" --timeout 900
