#!/usr/bin/python3
"""Per-convolution time of FTDR's CPU convolution, old route against new, interleaved A/B.

  old: every image of the batch is its own convolution, libtorch picking the kernel per image
       (slow_conv2d for a small image or a 1x1 kernel on one thread, oneDNN otherwise), then cat
  new: one oneDNN call (torch.mkldnn_convolution) for the whole batch

For each distinct Conv2d shape of the SD-1.5 UNet step (CFG batch 2, 64x64 latents) and, with
--vae, the SD-1.5 VAE decode (batch 1, 512x512), times both routes alternately (--reps each,
default 5) and prints the medians, the ratio, and totals weighted by how often the model runs
each shape. Run with Debian's python3-torch, the libtorch FTDR links:

  nice -n -5 /usr/bin/python3 bench/conv_batch_speed.py [--threads 1,2] [--reps 5] [--vae | --vae-only]
"""
import argparse
import collections
import statistics
import sys
import time

import torch
import torch.nn.functional as F

import conv_batch_invariance as inv


def old_route(x, w, b, stride, pad):
    if x.size(0) == 1:
        return F.conv2d(x, w, b, stride, pad)
    return torch.cat([F.conv2d(x[i:i + 1], w, b, stride, pad) for i in range(x.size(0))])


def new_route(x, w, b, stride, pad):
    return torch.mkldnn_convolution(x, w, b, [pad, pad], [stride, stride], [1, 1], 1)


def timed(fn, *args):
    t0 = time.perf_counter()
    fn(*args)
    return time.perf_counter() - t0


def bench(shapes, batch, reps):
    rows = []
    for (cin, cout, k, stride, pad, s), count in shapes.items():
        w = torch.randn(cout, cin, k, k) / (cin * k * k) ** 0.5
        b = torch.randn(cout)
        x = torch.randn(batch, cin, s, s)
        inner = max(1, int(2e8 // (batch * cin * cout * k * k * s * s)))  # tiny shapes: repeat
        old, new = [], []
        for _ in range(2):  # warm-up
            old_route(x, w, b, stride, pad), new_route(x, w, b, stride, pad)
        for _ in range(reps):
            old.append(sum(timed(old_route, x, w, b, stride, pad) for _ in range(inner)) / inner)
            new.append(sum(timed(new_route, x, w, b, stride, pad) for _ in range(inner)) / inner)
        mo, mn = statistics.median(old), statistics.median(new)
        rows.append(((cin, cout, k, stride, pad, s), count, mo, mn))
        print(f"  {cin:5d}->{cout:5d} k{k} s{stride} {s:4d}x{s:<4d} x{count:<3d} old {mo * 1e3:9.2f} ms"
              f"  new {mn * 1e3:9.2f} ms  new/old {mn / mo:5.2f}", flush=True)
    old_total = sum(c * o for _, c, o, _ in rows)
    new_total = sum(c * n for _, c, _, n in rows)
    print(f"  weighted total: old {old_total:.3f} s, new {new_total:.3f} s, new/old {new_total / old_total:.3f},"
          f" saved {old_total - new_total:.3f} s", flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", default="1")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--vae", action="store_true", help="the VAE decoder's convolutions too")
    ap.add_argument("--vae-only", action="store_true", help="only the VAE decoder's")
    args = ap.parse_args()
    unet = collections.Counter(inv.unet_convs(inv.load("sd15-configs/unet"), 64))
    if args.vae or args.vae_only:  # the decoder only: vae_convs lists it first, up to its conv_out
        convs = inv.vae_convs(inv.load("sd15-configs/vae"), 512)
        end = next(i for i, c in enumerate(convs) if c[1] == 3) + 1
        vae = collections.Counter(convs[:end])
    for threads in [int(t) for t in args.threads.split(",")]:
        torch.set_num_threads(threads)
        if not args.vae_only:
            print(f"threads {threads}: SD-1.5 UNet step convolutions, batch 2 (CFG), median of {args.reps}",
                  flush=True)
            bench(unet, 2, args.reps)
        if args.vae or args.vae_only:
            print(f"threads {threads}: SD-1.5 VAE decoder convolutions, batch 1, median of {args.reps}", flush=True)
            bench(vae, 1, args.reps)
    return 0


if __name__ == "__main__":
    sys.exit(main())
