#!/usr/bin/env bash
# Creates build/venv-diffusers for bench/compare_diffusers.py: Debian's python3 with its
# python3-torch (libtorch 1.13, the build FTDR links) visible (--system-site-packages), plus the
# pinned diffusers/transformers of bench/requirements-compare.txt from PyPI. Needs python3-torch
# (scripts/setup-deps.sh). Does nothing when the venv already has these pins.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv=${FTDR_COMPARE_VENV:-$root/build/venv-diffusers}
requirements=$root/bench/requirements-compare.txt
stamp=$venv/.ftdr-requirements
if [ -f "$stamp" ] && cmp -s "$stamp" "$requirements"; then
  exit 0
fi
if ! /usr/bin/python3 -c "import torch" 2>/dev/null; then
  echo "setup-compare-venv.sh: Debian's python3-torch is missing (apt-get install python3-torch)" >&2
  exit 1
fi
mkdir -p "$(dirname "$venv")"
/usr/bin/python3 -m venv --system-site-packages "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
cp "$requirements" "$stamp"
echo "setup-compare-venv.sh: $venv ready (torch $("$venv/bin/python" -c 'import torch; print(torch.__version__)'))"
