#!/usr/bin/env bash
# scripts/device-check.sh: every check FTDR needs a GPU for, in one run on the device machine
# (a task gets 15 device minutes in all: prepare here, run once, give the machine back).
#
# Here, first (../shared/device/README.md):
#   bash ../shared/device/make-deps-bundle.sh build/device/deps.tar.xz
#   mkdir -p build/device/reference
#   cp -r ../shared/reference/{README.md,tiny-sd1,tiny-sd2v,sd15-configs} build/device/reference/
# then run `bash scripts/device-check.sh` there with carry ["build/device"] and a timeout near 540 s.
#
# It builds against pip's libtorch 2.x with CUDA (no tools: the trainer is not needed), then runs:
#   1. the whole backend suite, built against libtorch 2.x (BackendCuda.* included: f32 parity on the device, f16/bf16 + SDPA, caching
#      allocator statistics, a real device OOM classified);
#   2. `ftdr generate` on CUDA with configs/lowvram.toml (f16, sliced attention, sequential policy,
#      3500 MiB budget enforced on the caching allocator) and the same with an injected diffusion OOM;
#   3. a real OOM under a tiny budget (device_budget_mb = 64) at 512x512, which recovery must survive
#      or fail with a reason;
#   4. the fault-tolerance benchmark on CUDA (peak device memory per phase per policy, checkpoint
#      overhead, decode-OOM recovery).
# Everything goes to $OUT (summary.txt first); a failing step is recorded and the script goes on.
set -uo pipefail
out=${OUT:-/tmp/ftdr-device}
mkdir -p "$out"
summary="$out/summary.txt"
note() { echo "$*" | tee -a "$summary"; }
step() {  # step <name> <timeout s> <command...>: runs it, keeps its log, records the exit status
  local name=$1 limit=$2
  shift 2
  local start=$SECONDS
  timeout "$limit" "$@" >"$out/$name.log" 2>&1
  local rc=$?
  note "$name: exit $rc, $((SECONDS - start)) s"
  tail -n 15 "$out/$name.log" | sed 's/^/    /' >>"$summary"
  return $rc
}

note "== $(date -u) on $(nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null)"
note "torch: $(python3 -c 'import torch;print(torch.__version__, torch.version.cuda, torch._C._GLIBCXX_USE_CXX11_ABI)')"
mkdir -p /opt/deps && tar -xJf build/device/deps.tar.xz -C /opt/deps
export LD_LIBRARY_PATH=/opt/deps/usr/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}
torch_prefix=$(python3 -c 'import torch;print(torch.utils.cmake_prefix_path)')
build=build-gpu
step configure 120 cmake -S . -B $build -G Ninja -DCMAKE_BUILD_TYPE=Release -DFTDR_BUILD_TOOLS=OFF \
  -DCMAKE_PREFIX_PATH="/opt/deps/usr;$torch_prefix" || exit 1
step build 420 cmake --build $build -j16 --target ftdr ftdr_plugins ftdr_backend_tests ftdr_bench_fault_tolerance ||
  exit 1

export FTDR_REFERENCE_DIR=$PWD/build/device/reference
step backend_tests 300 $build/tests/ftdr_backend_tests --gtest_brief=1

cd configs || exit 1
gen=(../$build/hosts/ftdr/ftdr generate --config lowvram.toml --width 64 --height 64 --steps 20 --seed 42
  --prompt "a large red circle on a blue background")
step doctor_cuda 60 ../$build/hosts/ftdr/ftdr doctor --config lowvram.toml
step generate_cuda 120 "${gen[@]}" --out "$out/cuda.png"
FTDR_FAULTS="oom=diffusion:step=7" step generate_cuda_injected_oom 120 "${gen[@]}" --out "$out/cuda_oom.png"
sed 's/^device_budget_mb = 3500/device_budget_mb = 64/' lowvram.toml >tiny-budget.toml
step generate_cuda_real_oom 180 ../$build/hosts/ftdr/ftdr generate --config tiny-budget.toml --width 512 \
  --height 512 --steps 4 --seed 1 --prompt "a small green square" --out "$out/cuda_real_oom.png"
rm -f tiny-budget.toml
cd .. || exit 1

step fault_tolerance_cuda 240 $build/bench/ftdr_bench_fault_tolerance --device cuda --model models/ftdr-shapes \
  --repeats 3
note "== done $(date -u)"
