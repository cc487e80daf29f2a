#!/usr/bin/env bash
# Fetches libtorch 2.x from PyPI (the `torch` wheel holds libtorch's headers, libraries and CMake
# config) and unpacks what a CPU build of FTDR needs into build/libtorch2, beside the Debian 1.13
# default. Prints the CMake arguments that build against it (see README "libtorch 2.x").
#
# PyPI's Linux wheel is a CUDA build: its libtorch_cpu.so needs libcudart.so.12 and libcupti.so.12
# (the profiler), so the two small nvidia packages that hold them come too (pinned to torch's own
# requirements); the multi-GB rest (cuDNN, cuBLAS, NCCL, libtorch_cuda.so) is left out, so this
# build runs on the CPU only (its CUDA-only code still compiles and links, against libc10_cuda and
# the CUDA 12 runtime). A GPU build uses a full `pip install torch` instead (README).
#
# Idempotent: wheels are reused from WHEEL_DIR (default ~/.cache/ftdr/wheels) and an unpacked tree
# whose stamp matches the pinned versions is kept. LIBTORCH2_DIR overrides build/libtorch2.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# The pinned versions, in one place. The nvidia pins are torch 2.7.1's Requires-Dist.
TORCH_VERSION=2.7.1
CUDART_VERSION=12.6.77
CUPTI_VERSION=12.6.80

dest=${LIBTORCH2_DIR:-$root/build/libtorch2}
wheels=${WHEEL_DIR:-$HOME/.cache/ftdr/wheels}
# pip fetches the wheel for this Python; its libtorch is the same for every Python version.
python_tag=$(python3 -c 'import sys; print("cp%d%d" % sys.version_info[:2])')
stamp="v2 torch==$TORCH_VERSION nvidia-cuda-runtime-cu12==$CUDART_VERSION nvidia-cuda-cupti-cu12==$CUPTI_VERSION"

# pip: Debian's python3 has none without python3-pip; a venv (python3-venv) brings its own.
pip() {
  if ! python3 -m pip --version >/dev/null 2>&1; then
    [ -x "$wheels/.pip-venv/bin/pip" ] || python3 -m venv "$wheels/.pip-venv" >&2
    "$wheels/.pip-venv/bin/pip" --disable-pip-version-check "$@"
  else
    python3 -m pip --disable-pip-version-check "$@"
  fi
}

# fetch <requirement> <file glob>: the wheel's path, downloaded unless already in $wheels.
fetch() {
  local found
  found=$(compgen -G "$wheels/$2" | head -n 1 || true)
  if [ -z "$found" ]; then
    mkdir -p "$wheels"
    echo "downloading $1 into $wheels" >&2
    pip download --quiet --no-deps --only-binary=:all: --dest "$wheels" "$1" >&2 ||
      { echo "error: pip could not download $1 (no PyPI? FTDR_TORCH2=0 scripts/test.sh skips this step)" >&2; exit 1; }
    found=$(compgen -G "$wheels/$2" | head -n 1 || true)
    [ -n "$found" ] || { echo "error: pip download $1 left no $2 in $wheels" >&2; exit 1; }
  fi
  echo "$found"
}

if [ "$(cat "$dest/.ftdr-stamp" 2>/dev/null || true)" != "$stamp" ]; then
  torch_whl=$(fetch "torch==$TORCH_VERSION" "torch-$TORCH_VERSION-$python_tag-$python_tag-manylinux*_x86_64.whl")
  cudart_whl=$(fetch "nvidia-cuda-runtime-cu12==$CUDART_VERSION" "nvidia_cuda_runtime_cu12-$CUDART_VERSION-*.whl")
  cupti_whl=$(fetch "nvidia-cuda-cupti-cu12==$CUPTI_VERSION" "nvidia_cuda_cupti_cu12-$CUPTI_VERSION-*.whl")
  mkdir -p "$(dirname "$dest")"
  tmp=$(mktemp -d "$(dirname "$dest")/.libtorch2.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  echo "unpacking $torch_whl" >&2
  # The CUDA kernels (libtorch_cuda*.so, ~1 GB) and the Python bindings are not needed on the CPU.
  unzip -q "$torch_whl" 'torch/include/*' 'torch/share/cmake/*' 'torch/lib/*' \
    -x 'torch/lib/libtorch_cuda*' 'torch/lib/libtorch_python.so' -d "$tmp"
  unzip -q -j "$cudart_whl" 'nvidia/cuda_runtime/lib/libcudart.so.12' -d "$tmp/torch/lib"
  # Its headers let the backend's CUDA-only code compile (cmake/TorchWheel.cmake), as on a GPU.
  unzip -q "$cudart_whl" 'nvidia/cuda_runtime/include/*' -d "$tmp"
  mkdir -p "$tmp/torch/cuda" && mv "$tmp/nvidia/cuda_runtime/include" "$tmp/torch/cuda/include"
  unzip -q -j "$cupti_whl" 'nvidia/cuda_cupti/lib/libcupti.so.12' -d "$tmp/torch/lib"
  echo "$stamp" >"$tmp/torch/.ftdr-stamp"
  rm -rf "$dest"
  mv "$tmp/torch" "$dest"
fi

# FTDR and libtorch must agree on std::string's layout: the wheel's config says which it uses.
abi=$(sed -n 's/.*-D_GLIBCXX_USE_CXX11_ABI=\([01]\).*/\1/p' "$dest/share/cmake/Torch/TorchConfig.cmake" | head -n 1)
if [ "$abi" != 1 ]; then
  echo "error: $dest was built with _GLIBCXX_USE_CXX11_ABI=${abi:-unknown}; FTDR (GCC 12, Debian) needs 1" >&2
  exit 1
fi
version=$(sed -n 's/^#define TORCH_VERSION_\(MAJOR\|MINOR\|PATCH\) \([0-9]*\)$/\2/p' \
  "$dest/include/torch/csrc/api/include/torch/version.h" | paste -sd.)
echo "libtorch $version (C++11 ABI) in $dest" >&2
echo "-DFTDR_LIBTORCH_WHEEL_DIR=$dest"
