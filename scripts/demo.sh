#!/usr/bin/env bash
# The README's main command: installs what is missing, builds `ftdr` and its plugins, and generates
# an image with the embedded demo model on the CPU. Arguments replace the default prompt flags.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/setup-deps.sh"
"$root/scripts/build.sh" --target ftdr ftdr_plugins
build=${BUILD_DIR:-$root/build/release}
if [ $# -eq 0 ]; then
  set -- --prompt "a large red circle on a blue background"
fi
exec "$build/hosts/ftdr/ftdr" generate --config "$root/configs/default.toml" --out "$root/outputs" "$@"
