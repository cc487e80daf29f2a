#!/usr/bin/env python3
"""An SD-1.5-size UNet step with FTDR's old and new CPU convolution routes, interleaved A/B.

  build/venv-diffusers/bin/python bench/conv_route_unet_step.py [--reps 5] [--threads 1]

diffusers' UNet2DConditionModel from ../shared/reference/sd15-configs (random weights), CFG batch
2, 64x64 latents, with every Conv2d's forward replaced by one of:
  per-image  FTDR before: each image its own convolution (libtorch picks the kernel per image)
  onednn     FTDR now: one torch.mkldnn_convolution call for the whole batch
  libtorch   diffusers as is: one call, libtorch picks the kernel from the batch
Everything else is diffusers' own, so the differences are the convolutions' alone. Prints each
route's median step time (--reps interleaved rounds after a warm-up) and the ratios.
"""
import argparse
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def per_image(self, x, weight, bias):
    conv = lambda t: F.conv2d(t, weight, bias, self.stride, self.padding, self.dilation, self.groups)  # noqa: E731
    return torch.cat([conv(x[i:i + 1]) for i in range(x.size(0))]) if x.size(0) > 1 else conv(x)


def onednn(self, x, weight, bias):
    return torch.mkldnn_convolution(x.contiguous(), weight, bias, list(self.padding), list(self.stride),
                                    list(self.dilation), self.groups)


ROUTES = {"per-image": per_image, "onednn": onednn, "libtorch": torch.nn.Conv2d._conv_forward}


def main():
    from diffusers import UNet2DConditionModel

    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--routes", default="per-image,onednn,libtorch")
    ap.add_argument("--reference", default=os.path.join(ROOT, "..", "shared", "reference"))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    unet = UNet2DConditionModel.from_config(
        UNet2DConditionModel.load_config(os.path.join(args.reference, "sd15-configs", "unet"))).eval()
    x, text = torch.randn(2, 4, 64, 64), torch.randn(2, 77, 768)
    t = torch.tensor(999)
    routes = args.routes.split(",")
    times = {r: [] for r in routes}
    outs = {}
    with torch.inference_mode():
        for rep in range(args.reps + 1):  # round 0 warms up
            for r in routes:
                torch.nn.Conv2d._conv_forward = ROUTES[r]
                t0 = time.perf_counter()
                outs[r] = unet(x, t, encoder_hidden_states=text).sample
                dt = time.perf_counter() - t0
                print(f"round {rep} {r:10s} {dt:7.2f} s", flush=True)
                if rep:
                    times[r].append(dt)
    med = {r: statistics.median(v) for r, v in times.items()}
    print(f"threads {args.threads}, median of {args.reps}: " + ", ".join(f"{r} {m:.2f} s" for r, m in med.items()))
    for r in routes[1:]:
        print(f"  {r} / {routes[0]}: {med[r] / med[routes[0]]:.3f}")
    for r in routes[1:]:
        print(f"  max |{r} - {routes[0]}| = {(outs[r] - outs[routes[0]]).abs().max().item():.3g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
