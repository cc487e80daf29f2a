#!/usr/bin/env bash
# Installs the Debian 12 packages FTDR builds and runs with (needs root or sudo).
# libopenblas0-pthread takes over libblas.so.3, which Debian's libtorch calls for every matmul;
# without it that is the slow single-threaded reference BLAS.
# clang and libclang-rt-14-dev (libFuzzer) build the fuzzers of scripts/fuzz.sh, which test.sh runs.
set -euo pipefail
pkgs=(build-essential cmake ninja-build ccache pkg-config
      libtorch-dev libopenblas0-pthread
      libdnnl-dev  # the headers of the oneDNN libtorch runs on: the VAE's banded convolutions call it
      libboost-dev libboost-program-options-dev libboost-filesystem-dev
      libspdlog-dev libtomlplusplus-dev nlohmann-json3-dev libpng-dev libsqlite3-dev
      libhiredis-dev redis-server  # the redis queue plugin; its tests start their own redis-server
      libssl-dev openssl  # the redis queue's TLS (rediss://); its tests make certificates with openssl
      libgtest-dev libgmock-dev
      clang libclang-rt-14-dev   # the fuzz step: clang and its libFuzzer/sanitizer runtimes
      clang-format clang-tidy    # scripts/format.sh --check (test.sh) and .clang-tidy
      python3-venv               # scripts/test-clients.sh: the venv of the HTTP client tests
      unzip                      # scripts/setup-libtorch2.sh unpacks the torch wheel (test.sh)
      python3-torch              # bench/compare_diffusers.py: diffusers on the same libtorch 1.13
      chromium chromium-driver)  # the status page's headless-browser test (Selenium drives it)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup-deps: all packages present"
  exit 0
fi
sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "setup-deps: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
