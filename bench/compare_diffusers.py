#!/usr/bin/env python3
"""FTDR and HuggingFace diffusers side by side, on the same model folder and the same libtorch.

    scripts/setup-compare-venv.sh                      # build/venv-diffusers (Debian's torch 1.13)
    build/venv-diffusers/bin/python bench/compare_diffusers.py [--tasks tiny,text,unet,vae]
        [--grid 1:1,1:2,2:1,2:2] [--sweep-reps N] [--reps N] [--out FILE] [--no-block-cache]

Each task runs in two long-lived worker processes, FTDR's (build/release/bench/
ftdr_bench_compare_worker) and diffusers' (this file with --worker), loaded once. The driver
sweeps the thread settings `intra-op:BLAS` of --grid in both (torch.set_num_threads /
at::set_num_threads and openblas_set_num_threads in the same loaded OpenBLAS), plus FTDR's own
choice (`threads = 0`, measured into a fresh state folder by a short-lived FTDR worker of its own
and read from there by the timed one, as every start after a machine's first), with runs
interleaved FTDR, diffusers, diffusers, FTDR, ... so the machine's drift hits both alike. Then
each side at its fastest setting: --reps more interleaved runs (a setting whose warm-up run took
over twice its side's fastest is dropped from the sweep), medians, the ratio FTDR / diffusers, and
each timed worker's peak RSS (VmHWM: model plus the largest run; the measuring worker's is printed
under the table). Prints a Markdown table (and writes it to --out).

Tasks (CPU, float32; the same work on both sides):
  tiny  tiny-sd1 (../shared/reference): pipeline call, 64x64, 10 PNDM steps, CFG 7.5, negative
        prompt, vs FTDR's encode + denoise + decode;
  text  SD-1.5-size text encoder: tokenize and encode the prompt and the negative prompt;
  unet  SD-1.5-size UNet, one CFG step: batch 2, 64x64 latents, 77x768 text, t = 999;
  vae   SD-1.5-size VAE decode, 1x4x64x64 -> 512x512.
(The worker also runs `sdxl_unet`, an SDXL UNet folder's CFG step at 1024x1024, for
bench/compare_single_file.py.)
The SD-1.5-size folder holds random weights (the libraries' own initialisation, seed 0) made from
../shared/reference/sd15-configs on first use, into build/sd15-random (4.3 GB, a minute or two).
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

from peer_process import ROOT, Worker, checkout_modified, ftdr_commit, measured_on, peak_rss

PROMPT = "a photo of an astronaut riding a horse on mars"
NEGATIVE = "blurry, low quality"
SWEEP_REPS = {"tiny": 3, "text": 3, "unet": 1, "vae": 1}
FINAL_REPS = {"tiny": 9, "text": 7, "unet": 3, "vae": 3}
DROP = 2.0  # a setting whose warm-up run is over 2x its side's fastest warm-up is not swept further
WHAT = {
    "tiny": "tiny-sd1 64x64, 10 PNDM steps, CFG (pipeline call vs encode+denoise+decode)",
    "text": "SD-1.5-size text encoder, prompt + negative prompt",
    "unet": "SD-1.5-size UNet step, CFG batch 2, 64x64 latents",
    "vae": "SD-1.5-size VAE decode, 512x512",
}


# ---------------------------------------------------------------- the diffusers worker (--worker)

def openblas():
    """The OpenBLAS this process loaded (through torch's libblas.so.3), or None."""
    import ctypes
    with open("/proc/self/maps") as maps:
        for line in maps:
            path = line.split()[-1]
            if "libopenblas" in os.path.basename(path):
                return ctypes.CDLL(path)
    return None


def load_task(task, model):
    import torch
    if task == "tiny":
        from diffusers import StableDiffusionPipeline
        pipe = StableDiffusionPipeline.from_pretrained(model)
        pipe.set_progress_bar_config(disable=True)
        return lambda: pipe(PROMPT, negative_prompt=NEGATIVE, num_inference_steps=10, guidance_scale=7.5,
                            height=64, width=64, generator=torch.Generator().manual_seed(600))
    if task == "text":
        from transformers import CLIPTextModel, CLIPTokenizer
        tokenizer = CLIPTokenizer.from_pretrained(os.path.join(model, "tokenizer"))
        encoder = CLIPTextModel.from_pretrained(os.path.join(model, "text_encoder")).eval()

        def encode():  # what StableDiffusionPipeline.encode_prompt does for the two prompts
            for text in (PROMPT, NEGATIVE):
                ids = tokenizer(text, padding="max_length", max_length=tokenizer.model_max_length,
                                truncation=True, return_tensors="pt").input_ids
                encoder(ids)[0]
        return encode
    if task == "unet":
        from diffusers import UNet2DConditionModel
        unet = UNet2DConditionModel.from_pretrained(os.path.join(model, "unet")).eval()
        x = torch.randn(2, unet.config.in_channels, 64, 64)
        text = torch.randn(2, 77, unet.config.cross_attention_dim)
        return lambda: unet(x, torch.tensor(999), encoder_hidden_states=text).sample
    if task == "vae":
        from diffusers import AutoencoderKL
        vae = AutoencoderKL.from_pretrained(os.path.join(model, "vae")).eval()
        z = torch.randn(1, vae.config.latent_channels, 64, 64)
        return lambda: vae.decode(z).sample
    if task == "sdxl_unet":  # a UNet folder (bench/compare_single_file.py): one CFG step at 1024x1024
        from diffusers import UNet2DConditionModel
        unet = UNet2DConditionModel.from_pretrained(model, torch_dtype=torch.float32).eval()
        x = torch.randn(2, unet.config.in_channels, 128, 128)
        text = torch.randn(2, 77, unet.config.cross_attention_dim)
        added = {"text_embeds": torch.randn(2, 1280),
                 "time_ids": torch.tensor([[1024.0, 1024.0, 0.0, 0.0, 1024.0, 1024.0]] * 2)}
        return lambda: unet(x, torch.tensor(999), encoder_hidden_states=text, added_cond_kwargs=added).sample
    raise SystemExit(f"--task: expected tiny, text, unet, vae or sdxl_unet, got {task!r}")


def worker(task, model):
    import time
    import torch
    blas = openblas()
    run = load_task(task, model)
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        cmd = line.split()
        if not cmd or cmd[0] == "quit":
            break
        if cmd[0] == "run":
            start = time.perf_counter()
            with torch.no_grad():
                run()
            reply = {"seconds": time.perf_counter() - start}
        elif cmd[0] == "profile":  # one run under torch's (legacy) profiler, a Chrome trace to cmd[1]
            start = time.perf_counter()
            with torch.no_grad(), torch.autograd.profiler.profile(use_kineto=False) as prof:
                run()
            reply = {"seconds": time.perf_counter() - start}
            prof.export_chrome_trace(cmd[1])
        elif cmd[0] == "threads":
            torch.set_num_threads(int(cmd[1]))
            if blas is not None:
                blas.openblas_set_num_threads(int(cmd[2]))
            reply = {"intra_op": torch.get_num_threads(), "blas": blas.openblas_get_num_threads() if blas else 0}
        elif cmd[0] == "stats":
            reply = peak_rss()
        else:
            reply = {"error": f"unknown command {line.strip()!r}"}
        print(json.dumps(reply), flush=True)


# ---------------------------------------------------------------- the SD-1.5-size random folder

def make_sd15_folder(reference, dest):
    """Random SD-1.5-size weights (seed 0) in a diffusers folder; run in a child process."""
    import torch
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel
    configs = os.path.join(reference, "sd15-configs")
    tmp = dest + ".partial"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    torch.manual_seed(0)
    for name, cls in (("unet", UNet2DConditionModel), ("vae", AutoencoderKL)):
        model = cls.from_config(cls.load_config(os.path.join(configs, name)))
        model.save_pretrained(os.path.join(tmp, name), safe_serialization=True)
        del model
    te = CLIPTextModel(CLIPTextConfig.from_pretrained(os.path.join(configs, "text_encoder")))
    te.save_pretrained(os.path.join(tmp, "text_encoder"), safe_serialization=True)
    shutil.copytree(os.path.join(configs, "scheduler"), os.path.join(tmp, "scheduler"))
    shutil.copy(os.path.join(configs, "model_index.json"), tmp)
    shutil.copytree(os.path.join(reference, "tokenizer"), os.path.join(tmp, "tokenizer"))
    os.rename(tmp, dest)


# ---------------------------------------------------------------- the driver

def interleaved(pairs, reps, log):
    """pairs: [(key, worker, setting, state_dir)]; each rep runs every pair once, order reversed
    every other rep. Returns {key: [seconds]}."""
    times = {key: [] for key, *_ in pairs}
    for rep in range(reps):
        for key, w, setting, state_dir in (pairs if rep % 2 == 0 else pairs[::-1]):
            w.threads(setting, state_dir)
            times[key].append(w.run())
            log(f"  {key}: {times[key][-1]:.3f} s")
    return times


def compare(task, model, args, log):
    ftdr_argv = [args.ftdr_worker, "--task", task, "--model", model] + \
        (["--no-block-cache"] if args.no_block_cache else [])
    # threads = 0 measures in a process of its own, the first start on a machine; the timed worker
    # reads the choice from the cache as every later start does. Its rounds run the UNet's op mix
    # (attention scores of the model's first level), which would otherwise be the peak RSS of a
    # worker that only encodes text.
    state_dir = tempfile.mkdtemp(prefix="ftdr-compare-state-")
    measuring = Worker("ftdr (measuring threads = 0)", ftdr_argv)
    auto = measuring.threads("auto", state_dir)  # the fresh folder has no decision yet
    measuring_rss_mb = measuring.close()["peak_rss_mb"]
    log(f"{task}: FTDR's threads = 0 chose {auto['intra_op']}:{auto['blas']} ({auto['how']}; that "
        f"process's peak RSS {measuring_rss_mb} MB)")
    ftdr = Worker("ftdr", ftdr_argv)
    diff = Worker("diffusers", [sys.executable, os.path.abspath(__file__), "--worker", "--task", task,
                                "--model", model])
    pairs = [(("ftdr", "auto"), ftdr, "auto", state_dir)]
    for setting in args.grid:
        pairs += [(("ftdr", setting), ftdr, setting, None), (("diffusers", setting), diff, setting, None)]
    if not args.no_cold_run:
        ftdr.run()  # the first run of a process is slower (allocations, kernels): not a setting's warm-up
        diff.run()
    warm = {}
    for key, w, setting, sd in pairs:  # one warm-up run per setting
        w.threads(setting, sd)
        warm[key] = w.run()
        log(f"  {key} warm-up: {warm[key]:.3f} s")
    # A setting whose warm-up took over DROP x its side's fastest is not timed again: on a loaded
    # machine an oversubscribing split can be 10x slower, and its runs would take the hour.
    fastest = {side: min(v for k, v in warm.items() if k[0] == side) for side in ("ftdr", "diffusers")}
    kept = [p for p in pairs if warm[p[0]] <= DROP * fastest[p[0][0]]]
    dropped = {f"{k[0]} {k[1]}": round(v, 3) for k, v in warm.items() if v > DROP * fastest[k[0]]}
    sweep = interleaved(kept, args.sweep_reps or SWEEP_REPS[task], log)
    med = {key: statistics.median(v) for key, v in sweep.items()}
    best = {side: min((k for k in med if k[0] == side), key=med.get) for side in ("ftdr", "diffusers")}
    log(f"{task}: sweep medians " + ", ".join(f"{k[0]} {k[1]} {v:.3f}" for k, v in sorted(med.items())))
    reps = FINAL_REPS[task] if args.reps is None else args.reps
    if reps > 0:
        final = interleaved([(best["ftdr"], ftdr, best["ftdr"][1], state_dir),
                             (best["diffusers"], diff, best["diffusers"][1], None),
                             (("ftdr-auto", "auto"), ftdr, "auto", state_dir)], reps, log)
    else:  # --reps 0: the sweep's own runs are the result
        final = dict(sweep)
        final[("ftdr-auto", "auto")] = sweep.get(("ftdr", "auto"), [warm[("ftdr", "auto")]])
        reps = args.sweep_reps or SWEEP_REPS[task]
    row = {"task": task, "what": WHAT[task], "sweep": {f"{k[0]} {k[1]}": v for k, v in med.items()},
           "dropped_after_warm_up": dropped, "load_average": os.getloadavg()[0],
           "auto_choice": f"{auto['intra_op']}:{auto['blas']}",
           "ftdr_setting": best["ftdr"][1], "diffusers_setting": best["diffusers"][1],
           "ftdr_s": statistics.median(final[best["ftdr"]]),
           "diffusers_s": statistics.median(final[best["diffusers"]]),
           "ftdr_auto_s": statistics.median(final[("ftdr-auto", "auto")]),
           "reps": reps}
    row["ftdr_rss_mb"] = ftdr.close()["peak_rss_mb"]
    row["ftdr_measuring_rss_mb"] = measuring_rss_mb
    row["diffusers_rss_mb"] = diff.close()["peak_rss_mb"]
    shutil.rmtree(state_dir, ignore_errors=True)
    return row


def table(rows, header):
    out = [header, "",
           "| work | diffusers (threads) | FTDR best (threads) | FTDR / diffusers | FTDR `threads = 0` "
           "(its choice) | its ratio | peak RSS diffusers / FTDR |",
           "| --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        out.append(f"| {r['what']} (median of {r['reps']}) | {r['diffusers_s']:.3f} s ({r['diffusers_setting']})"
                   f" | {r['ftdr_s']:.3f} s ({r['ftdr_setting']}) | {r['ftdr_s'] / r['diffusers_s']:.2f}x"
                   f" | {r['ftdr_auto_s']:.3f} s ({r['auto_choice']}) | {r['ftdr_auto_s'] / r['diffusers_s']:.2f}x"
                   f" | {r['diffusers_rss_mb']} / {r['ftdr_rss_mb']} MB"
                   f" ({r['ftdr_rss_mb'] / r['diffusers_rss_mb']:.2f}x) |")
    out += ["", "FTDR's `threads = 0` choice was measured by a worker of its own (peak RSS " +
            ", ".join(f"{r['task']} {r['ftdr_measuring_rss_mb']} MB" for r in rows) +
            "); the timed worker read it from the cache."]
    return "\n".join(out)


def describe():
    modified = " (modified)" if checkout_modified() else ""
    return (f"{measured_on(ftdr_commit() + modified)}, load average {os.getloadavg()[0]:.1f} at the start. "
            "Threads are `intra-op:BLAS`.")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--make-sd15", metavar="DIR", help=argparse.SUPPRESS)
    p.add_argument("--task")
    p.add_argument("--model")
    p.add_argument("--tasks", default="tiny,text,unet,vae")
    p.add_argument("--grid", default="1:1,1:2,2:1,2:2", help="thread settings intra-op:BLAS to sweep")
    p.add_argument("--sweep-reps", type=int, help="timed runs per setting in the sweep (default per task)")
    p.add_argument("--reps", type=int, help="interleaved runs at the best settings (default per task; 0: "
                   "report the sweep's runs instead, for when one run takes minutes)")
    p.add_argument("--no-cold-run", action="store_true",
                   help="no untimed first run per process (each setting's warm-up run still comes first)")
    p.add_argument("--reference", default=os.path.join(ROOT, "..", "shared", "reference"))
    p.add_argument("--sd15-dir", default=os.path.join(ROOT, "build", "sd15-random"))
    p.add_argument("--ftdr-worker", default=os.path.join(ROOT, "build", "release", "bench",
                                                         "ftdr_bench_compare_worker"))
    p.add_argument("--out", help="also write the table (Markdown) here")
    p.add_argument("--no-block-cache", action="store_true",
                   help="FTDR with libtorch's own CPU allocator (cpu_block_cache = false)")
    args = p.parse_args()
    if args.worker:
        return worker(args.task, args.model)
    if args.make_sd15:
        return make_sd15_folder(args.reference, args.make_sd15)
    args.grid = args.grid.split(",")
    tasks = args.tasks.split(",")
    if not os.access(args.ftdr_worker, os.X_OK):
        raise SystemExit(f"--ftdr-worker: {args.ftdr_worker} not found (scripts/build.sh --target "
                         "ftdr_bench_compare_worker)")
    if any(t != "tiny" for t in tasks) and not os.path.isdir(args.sd15_dir):
        print(f"making SD-1.5-size random weights in {args.sd15_dir}", file=sys.stderr)
        subprocess.run([sys.executable, os.path.abspath(__file__), "--make-sd15", args.sd15_dir,
                        "--reference", args.reference], check=True)
    header = describe()

    def log(text):
        print(text, file=sys.stderr, flush=True)

    rows = []
    for task in tasks:
        model = os.path.join(args.reference, "tiny-sd1") if task == "tiny" else args.sd15_dir
        rows.append(compare(task, model, args, log))
        log(json.dumps(rows[-1]))
    text = table(rows, header)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n\nRaw figures (sweep medians in seconds per setting):\n\n```\n" +
                    json.dumps(rows, indent=1) + "\n```\n")


if __name__ == "__main__":
    main()
