#!/usr/bin/env python3
"""Where one run's time goes, per libtorch op, in FTDR and in diffusers side by side.

    build/venv-diffusers/bin/python bench/profile_ops.py --task unet [--threads 2:2] [--top 30]
        [--ftdr-threads I:B] [--diffusers-threads I:B] [--model DIR]

Starts the two workers of bench/compare_diffusers.py, one after the other, for the task
(`sdxl_unet` with --model an SDXL UNet folder, e.g. bench/compare_single_file.py's
build/single-file-bench/sdxl-unet), sets their threads (both --threads, or each side's own), warms
each up with one run, then profiles one run of each with libtorch's own (legacy) profiler (Chrome
traces) and prints each op's self time (its time minus the ops it called), calls and the
difference, largest first. Both sides call the same libtorch, so the op names match: a row only one
side has is work the other does not do (a copy, a layout conversion, a per-image loop).
"""
import argparse
import collections
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare_diffusers as cd  # noqa: E402


def self_times(trace_file):
    """{op name: [self seconds, calls]} from a Chrome trace, nesting by time on each thread."""
    with open(trace_file) as f:
        doc = json.load(f)
    events = doc["traceEvents"] if isinstance(doc, dict) else doc
    by_thread = collections.defaultdict(list)
    for e in events:
        if e.get("ph") == "X" and "dur" in e:
            by_thread[e.get("tid")].append(e)
    out = collections.defaultdict(lambda: [0.0, 0])
    for evs in by_thread.values():
        evs.sort(key=lambda e: (float(e["ts"]), -float(e["dur"])))
        stack = []  # [end, name, dur, children]

        def close(item):
            out[item[1]][0] += (item[2] - item[3]) / 1e6
            out[item[1]][1] += 1

        for e in evs:
            ts, dur = float(e["ts"]), float(e["dur"])
            while stack and stack[-1][0] <= ts:
                close(stack.pop())
            if stack:
                stack[-1][3] += dur
            stack.append([ts + dur, e["name"], dur, 0.0])
        while stack:
            close(stack.pop())
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--task", default="unet", choices=["tiny", "text", "unet", "vae", "sdxl_unet"])
    p.add_argument("--model", help="the model folder (default: tiny-sd1 for tiny, --sd15-dir otherwise; "
                   "an SDXL UNet folder for sdxl_unet)")
    p.add_argument("--threads", default="2:2", help="intra-op:BLAS for both sides")
    p.add_argument("--ftdr-threads", help="FTDR's intra-op:BLAS (default --threads)")
    p.add_argument("--diffusers-threads", help="diffusers' intra-op:BLAS (default --threads)")
    p.add_argument("--top", type=int, default=30)
    p.add_argument("--reference", default=os.path.join(cd.ROOT, "..", "shared", "reference"))
    p.add_argument("--sd15-dir", default=os.path.join(cd.ROOT, "build", "sd15-random"))
    p.add_argument("--ftdr-worker", default=os.path.join(cd.ROOT, "build", "release", "bench",
                                                         "ftdr_bench_compare_worker"))
    args = p.parse_args()
    if args.task == "sdxl_unet" and not args.model:
        raise SystemExit("--task sdxl_unet: give --model, an SDXL UNet folder (config.json and "
                         "diffusion_pytorch_model.safetensors)")
    model = args.model or (os.path.join(args.reference, "tiny-sd1") if args.task == "tiny" else args.sd15_dir)
    threads = {"ftdr": args.ftdr_threads or args.threads, "diffusers": args.diffusers_threads or args.threads}
    tmp = tempfile.mkdtemp(prefix="ftdr-profile-")
    argv = {"ftdr": [args.ftdr_worker, "--task", args.task, "--model", model],
            "diffusers": [sys.executable, cd.__file__, "--worker", "--task", args.task, "--model", model]}
    ops, wall = {}, {}
    for side in ("ftdr", "diffusers"):  # one worker at a time: two SDXL UNets at f32 need 25 GB
        w = cd.Worker(side, argv[side])
        w.threads(threads[side])
        w.run()
        trace = os.path.join(tmp, side + ".json")
        wall[side] = w.ask(f"profile {trace}")["seconds"]
        ops[side] = self_times(trace)
        w.close()
    names = sorted(set(ops["ftdr"]) | set(ops["diffusers"]),
                   key=lambda n: -max(ops["ftdr"].get(n, [0])[0], ops["diffusers"].get(n, [0])[0]))
    print(f"{args.task}, threads FTDR {threads['ftdr']}, diffusers {threads['diffusers']}: profiled run "
          f"FTDR {wall['ftdr']:.3f} s, diffusers {wall['diffusers']:.3f} s (the profiler adds its own time)")
    print(f"| op | FTDR self s | calls | diffusers self s | calls | FTDR - diffusers |")
    print("| --- | --- | --- | --- | --- | --- |")
    for n in names[:args.top]:
        f, d = ops["ftdr"].get(n, [0.0, 0]), ops["diffusers"].get(n, [0.0, 0])
        print(f"| {n} | {f[0]:.3f} | {f[1]} | {d[0]:.3f} | {d[1]} | {f[0] - d[0]:+.3f} |")
    total = {s: sum(v[0] for v in ops[s].values()) for s in ops}
    print(f"| all ops | {total['ftdr']:.3f} | | {total['diffusers']:.3f} | | {total['ftdr'] - total['diffusers']:+.3f} |")


if __name__ == "__main__":
    main()
