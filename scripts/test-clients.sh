#!/usr/bin/env bash
# Creates build/venv-clients (python3 -m venv) with the pinned packages of the client tests
# (tests/integration/clients/requirements.txt: selenium for the status page's Chromium test). Run by
# scripts/test.sh before CTest; the tests find the venv there (or FTDR_CLIENTS_VENV) and skip,
# saying so, when it is missing. Needs PyPI the first time; afterwards it only checks.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv=${FTDR_CLIENTS_VENV:-$root/build/venv-clients}
req=$root/tests/integration/clients/requirements.txt
stamp=$venv/.requirements
if [ -f "$stamp" ] && cmp -s "$req" "$stamp"; then
  echo "test-clients: $venv up to date"
  exit 0
fi
python3 -m venv "$venv"
"$venv/bin/pip" install -q --disable-pip-version-check -r "$req"
cp "$req" "$stamp"
echo "test-clients: installed $(grep -v '^#' "$req" | tr '\n' ' ')into $venv"
