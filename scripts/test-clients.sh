#!/usr/bin/env bash
# Creates build/venv-clients (python3 -m venv; Debian's python3-venv) and installs the pinned HTTP
# clients of tests/integration/clients/requirements.txt (the AUTOMATIC1111 client `webuiapi`,
# and Selenium for the status page's Chromium test).
# scripts/test.sh runs it before CTest. Does nothing when the venv already has these pins. Without
# PyPI (offline) it says so and exits 0: the client tests then skip, naming the missing client.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv=${FTDR_CLIENTS_VENV:-$root/build/venv-clients}
requirements=$root/tests/integration/clients/requirements.txt
stamp=$venv/.ftdr-requirements
if [ -f "$stamp" ] && cmp -s "$stamp" "$requirements"; then
  exit 0
fi
mkdir -p "$(dirname "$venv")"
python3 -m venv "$venv"
if "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"; then
  cp "$requirements" "$stamp"
  echo "test-clients.sh: installed $(grep -c '==' "$requirements") pinned packages into $venv"
else
  echo "test-clients.sh: WARNING: pip could not install $requirements; the client tests will skip" >&2
fi
