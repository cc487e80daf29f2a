#!/usr/bin/env bash
# Formats every C++ file of the repository with clang-format and the checked-in .clang-format.
#   scripts/format.sh           rewrites the files in place
#   scripts/format.sh --check   changes nothing; lists the files that differ and exits 1 if any do
# Generated files (their generator owns the layout) are left alone.
set -euo pipefail
cd "$(dirname "$0")/.."
generated='plugins/backend/libtorch/tokenizer/unicode_tables.cpp'
mapfile -t files < <(git ls-files '*.cpp' '*.hpp' '*.cu' '*.cuh' | grep -vxF "$generated")
if [ "${1:-}" != --check ]; then
  clang-format -i "${files[@]}"
  exit 0
fi
bad=0
for f in "${files[@]}"; do
  if ! clang-format --dry-run -Werror "$f" >/dev/null 2>&1; then
    echo "format.sh: $f is not clang-formatted (run scripts/format.sh)"
    bad=1
  fi
done
exit $bad
