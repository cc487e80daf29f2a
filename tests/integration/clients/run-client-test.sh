#!/usr/bin/env bash
# run-client-test.sh VENV SCRIPT ARGS...: runs a client test with the venv's Python; exits 77
# (CTest's skip) naming the venv when scripts/test-clients.sh has not made it.
venv=$1 script=$2
shift 2
if [ ! -x "$venv/bin/python" ]; then
  echo "SKIP: no client venv at $venv (scripts/test-clients.sh makes it; test.sh runs that)"
  exit 77
fi
exec "$venv/bin/python" "$script" "$@"
