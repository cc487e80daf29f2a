#!/usr/bin/python3
"""Is oneDNN's CPU convolution batch-invariant at the shapes FTDR runs?

For every distinct Conv2d shape of the SD-1.5 UNet and VAE, the SDXL UNet and the tiny reference
models, this calls oneDNN directly (torch.mkldnn_convolution, what libtorch's CPU path calls when
it picks oneDNN) on batches of 1..4 (and 8) random images and checks bit for bit that every image's
result equals its result alone. Run with Debian's python3-torch (the libtorch FTDR links):

  nice -n 19 /usr/bin/python3 bench/conv_batch_invariance.py [--threads 1,2] [--dtype f32] [--quick] [--models tiny,sdxl]

DNNL_MAX_CPU_ISA=AVX2 (or SSE41, AVX512_CORE) in the environment makes oneDNN use that ISA's
kernels, as it would on such a CPU. Prints one line per shape and a summary; exits 1 on a difference.
"""
import argparse
import json
import os
import sys
import time

import torch
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REF = os.environ.get("FTDR_REFERENCE_DIR", os.path.join(ROOT, "..", "shared", "reference"))


def unet_convs(cfg, size, linear_proj=None):
    """(in, out, kernel, stride, pad, spatial) of a diffusers UNet2DConditionModel at latent `size`."""
    ch = cfg["block_out_channels"]
    L = cfg["layers_per_block"]
    lin = cfg.get("use_linear_projection") if linear_proj is None else linear_proj
    convs, s = [], size
    k_in = cfg.get("conv_in_kernel") or 3
    convs.append((cfg["in_channels"], ch[0], k_in, 1, k_in // 2, s))

    def resnet(cin, cout, s):
        convs.append((cin, cout, 3, 1, 1, s))
        convs.append((cout, cout, 3, 1, 1, s))
        if cin != cout:
            convs.append((cin, cout, 1, 1, 0, s))

    def attn(c, s):
        if not lin:
            convs.extend([(c, c, 1, 1, 0, s)] * 2)  # proj_in and proj_out

    prev = ch[0]
    for i, kind in enumerate(cfg["down_block_types"]):
        for j in range(L):
            resnet(prev if j == 0 else ch[i], ch[i], s)
            if "CrossAttn" in kind:
                attn(ch[i], s)
        prev = ch[i]
        if i < len(ch) - 1:
            convs.append((ch[i], ch[i], 3, 2, 1, s))
            s //= 2
    resnet(ch[-1], ch[-1], s)
    attn(ch[-1], s)
    rev = list(reversed(ch))
    prev_out = rev[0]
    for i, kind in enumerate(cfg["up_block_types"]):
        out, inp = rev[i], rev[min(i + 1, len(ch) - 1)]
        for j in range(L + 1):
            skip = inp if j == L else out
            resnet((prev_out if j == 0 else out) + skip, out, s)
            if "CrossAttn" in kind:
                attn(out, s)
        prev_out = out
        if i < len(ch) - 1:
            s *= 2
            convs.append((out, out, 3, 1, 1, s))
    k_out = cfg.get("conv_out_kernel") or 3
    convs.append((ch[0], cfg["out_channels"], k_out, 1, k_out // 2, s))
    return convs


def vae_convs(cfg, size):
    """Decoder and encoder convolutions of a diffusers AutoencoderKL at image `size`."""
    ch, L, lat = cfg["block_out_channels"], cfg["layers_per_block"], cfg["latent_channels"]
    convs = []

    def resnet(cin, cout, s):
        convs.append((cin, cout, 3, 1, 1, s))
        convs.append((cout, cout, 3, 1, 1, s))
        if cin != cout:
            convs.append((cin, cout, 1, 1, 0, s))

    # decoder
    s = size // 2 ** (len(ch) - 1)
    convs.append((lat, lat, 1, 1, 0, s))  # post_quant_conv
    convs.append((lat, ch[-1], 3, 1, 1, s))
    resnet(ch[-1], ch[-1], s)
    rev = list(reversed(ch))
    prev = rev[0]
    for i in range(len(ch)):
        for j in range(L + 1):
            resnet(prev if j == 0 else rev[i], rev[i], s)
        prev = rev[i]
        if i < len(ch) - 1:
            s *= 2
            convs.append((rev[i], rev[i], 3, 1, 1, s))
    convs.append((ch[0], cfg["out_channels"], 3, 1, 1, s))
    # encoder (downsample: pad right/bottom by one, then stride 2 without padding)
    s = size
    convs.append((cfg["in_channels"], ch[0], 3, 1, 1, s))
    prev = ch[0]
    for i in range(len(ch)):
        for j in range(L):
            resnet(prev if j == 0 else ch[i], ch[i], s)
        prev = ch[i]
        if i < len(ch) - 1:
            convs.append((ch[i], ch[i], 3, 2, 0, s + 1))
            s //= 2
    resnet(ch[-1], ch[-1], s)
    convs.append((ch[-1], 2 * lat, 3, 1, 1, s))
    convs.append((2 * lat, 2 * lat, 1, 1, 0, s))  # quant_conv
    return convs


def load(name):
    with open(os.path.join(REF, name, "config.json")) as f:
        return json.load(f)


SDXL_UNET = {  # stabilityai/stable-diffusion-xl-base-1.0's unet/config.json, the conv-relevant keys
    "block_out_channels": [320, 640, 1280], "layers_per_block": 2, "in_channels": 4, "out_channels": 4,
    "down_block_types": ["DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"],
    "up_block_types": ["CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"],
    "use_linear_projection": True,
}


def all_shapes(quick, only=None):
    models = [
        ("tiny-sd1 unet 64px", unet_convs(load("tiny-sd1/unet"), 8)),
        ("tiny-sd1 vae 64px", vae_convs(load("tiny-sd1/vae"), 64)),
        ("tiny-sd2v unet 64px", unet_convs(load("tiny-sd2v/unet"), 8)),
        ("tiny-sd2v vae 64px", vae_convs(load("tiny-sd2v/vae"), 64)),
        ("tiny-sd1 unet 256px", unet_convs(load("tiny-sd1/unet"), 32)),
        ("sd15 unet 512px", unet_convs(load("sd15-configs/unet"), 64)),
        ("sdxl unet 1024px", unet_convs(SDXL_UNET, 128)),
    ]
    if not quick:
        models += [("sd15 vae 512px", vae_convs(load("sd15-configs/vae"), 512))]
    if only:
        models = [(m, c) for m, c in models if any(o in m for o in only.split(","))]
    seen, out = set(), []
    for model, convs in models:
        for c in convs:
            if c not in seen:
                seen.add(c)
                out.append((model, c))
    return out


def check(shape, dtype, batches):
    cin, cout, k, stride, pad, s = shape
    w = torch.randn(cout, cin, k, k, dtype=dtype) * (1.0 / (cin * k * k) ** 0.5)
    b = torch.randn(cout, dtype=dtype)
    x = torch.randn(max(batches), cin, s, s, dtype=dtype)

    def conv(t):
        return torch.mkldnn_convolution(t, w, b, [pad, pad], [stride, stride], [1, 1], 1)

    alone = [conv(x[i:i + 1].contiguous()) for i in range(max(batches))]
    bad = []
    for n in batches:
        y = conv(x[:n].contiguous())
        for i in range(n):
            if not torch.equal(y[i:i + 1], alone[i]):
                d = (y[i:i + 1].float() - alone[i].float()).abs().max().item()
                bad.append(f"batch {n} image {i}: max diff {d:.3g}")
    # the libtorch path FTDR used so far for a single image (slow_conv2d or oneDNN, libtorch's pick)
    ref = F.conv2d(x[:1], w, b, stride, pad)
    same_as_default = torch.equal(ref, alone[0])
    return bad, same_as_default


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--dtype", default="f32", choices=["f32", "bf16"])
    ap.add_argument("--batches", default="1,2,3,4")
    ap.add_argument("--quick", action="store_true", help="leave out the SD-1.5 VAE at 512x512")
    ap.add_argument("--models", help="only these models (comma-separated parts of their names, e.g. tiny,sd15 vae)")
    args = ap.parse_args()
    dtype = {"f32": torch.float32, "bf16": torch.bfloat16}[args.dtype]
    batches = [int(b) for b in args.batches.split(",")]
    shapes = all_shapes(args.quick, args.models)
    print(f"torch {torch.__version__}, DNNL_MAX_CPU_ISA={os.environ.get('DNNL_MAX_CPU_ISA', '(unset)')}, "
          f"{args.dtype}, batches {batches}, {len(shapes)} distinct shapes", flush=True)
    failures = 0
    for threads in [int(t) for t in args.threads.split(",")]:
        torch.set_num_threads(threads)
        for model, shape in shapes:
            torch.manual_seed(hash(shape) % 1000)
            t0 = time.time()
            bad, same = check(shape, dtype, batches)
            failures += len(bad)
            cin, cout, k, stride, pad, s = shape
            print(f"threads {threads} {model:20s} {cin:5d}->{cout:5d} k{k} s{stride} p{pad} {s:4d}x{s:<4d} "
                  f"{'OK' if not bad else 'DIFFERS ' + '; '.join(bad)}"
                  f"{'' if same else '  (libtorch alone picks another kernel)'}  {time.time() - t0:.1f}s",
                  flush=True)
    print("batch-invariant at every shape" if failures == 0 else f"{failures} image results differ")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
