#!/usr/bin/python3
"""The SD VAE decoder's 3x3 convolutions on the CPU, contiguous against channels-last, interleaved.

FTDR's VAE decoder keeps its activations channels-last on the CPU only where oneDNN's channels-last
convolutions are fast (nn/cpu_conv.hpp: cpu_channels_last_convs_fast, AVX-512). This measures the
reason on the machine at hand: for each 3x3 shape of the SD-1.5 VAE decoder at 512x512 (batch 1),
torch.mkldnn_convolution on a contiguous input (oneDNN reorders it into its blocked layout and the
output back) and on a channels-last input and weight (read and written as they are), alternately,
--reps times each, and prints the medians and their ratio. Run with Debian's python3-torch, the
libtorch FTDR links:

  /usr/bin/python3 bench/conv_layout_speed.py [--threads 2] [--reps 3]

oneDNN's ISA cap (DNNL_MAX_CPU_ISA=AVX2) applies here as in FTDR.
"""
import argparse
import statistics
import time

import torch

# (in channels, out channels, height = width) of the SD-1.5 VAE decoder's 3x3 convolutions at
# 512x512, the largest first.
SHAPES = [(256, 128, 512), (128, 128, 512), (256, 256, 512), (512, 256, 256), (256, 256, 256),
          (512, 512, 256), (512, 512, 128), (512, 512, 64)]


def timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--reps", type=int, default=3)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    flags = open("/proc/cpuinfo").read()
    avx512 = all(f in flags for f in ("avx512f", "avx512bw", "avx512vl", "avx512dq"))
    print(f"torch {torch.__version__}, {args.threads} threads, AVX-512 (avx512_core): {avx512}")
    print("| in -> out channels, size | contiguous s | channels-last s | channels-last / contiguous |")
    print("| --- | --- | --- | --- |")
    total = [0.0, 0.0]
    with torch.inference_mode():
        for cin, cout, size in SHAPES:
            x = torch.randn(1, cin, size, size)
            w = torch.randn(cout, cin, 3, 3) * 0.02
            b = torch.zeros(cout)
            xl, wl = x.contiguous(memory_format=torch.channels_last), w.contiguous(memory_format=torch.channels_last)
            runs = {"contiguous": lambda: torch.mkldnn_convolution(x, w, b, (1, 1), (1, 1), (1, 1), 1),
                    "channels_last": lambda: torch.mkldnn_convolution(xl, wl, b, (1, 1), (1, 1), (1, 1), 1)}
            times = {k: [] for k in runs}
            for fn in runs.values():
                fn()  # oneDNN builds its kernel
            for _ in range(args.reps):
                for k, fn in runs.items():
                    times[k].append(timed(fn))
            c, l = statistics.median(times["contiguous"]), statistics.median(times["channels_last"])
            total[0] += c
            total[1] += l
            print(f"| {cin} -> {cout}, {size}x{size} | {c:.3f} | {l:.3f} | {l / c:.2f}x |")
    print(f"| all shapes once | {total[0]:.3f} | {total[1]:.3f} | {total[1] / total[0]:.2f}x |")


if __name__ == "__main__":
    main()
