#!/usr/bin/env python3
"""Single-file checkpoints of real size, FTDR and HuggingFace diffusers side by side (issue 13).

    scripts/setup-compare-venv.sh       # build/venv-diffusers (Debian's torch 1.13 + diffusers 0.31)
    scripts/build.sh --target ftdr_bench_single_file ftdr_bench_compare_worker
    build/venv-diffusers/bin/python bench/compare_single_file.py [--reps 3] [--warmup 1]
        [--unet-reps 2] [--unet-warmup 1] [--threads 2:2] [--ftdr-threads I:B] [--diffusers-threads I:B]
        [--parts load,unet] [--out FILE]

1. Writes random-weight files of real size into --dir (default build/single-file-bench; never into
   git), streamed tensor by tensor (the writer never holds a whole model):
     sd15-random.safetensors   SD 1.5 in the original LDM layout (cond_stage_model.transformer.*,
                               model.diffusion_model.*, first_stage_model.*), F32, 4.27 GB like
                               v1-5-pruned-emaonly.safetensors;
     sdxl-random.safetensors   SDXL base in the original SGM layout (conditioner.embedders.0/1.*,
                               model.diffusion_model.* with label_emb, first_stage_model.*), F16,
                               6.94 GB like sd_xl_base_1.0.safetensors;
     sdxl-unet/                the SDXL UNet alone as a diffusers folder (F16), for the step below;
     configs-sd15/, configs-sdxl/  the local diffusers configs diffusers' from_single_file needs
                               offline (config=): SD 1.5's from ../shared/reference/sd15-configs,
                               SDXL base's written here from stabilityai/stable-diffusion-xl-base-1.0's
                               published config files; tokenizers from ../shared/reference/tokenizer.
   The key names are scripts/reference/single_file.py's (the names diffusers' own converter reads).
2. Load: each load in a fresh process, FTDR (`ftdr_bench_single_file --time-load FILE DTYPE`:
   load_model(), every component built and loaded, as the backend's load() does) and diffusers
   (`StableDiffusion[XL]Pipeline.from_single_file(FILE, config=<local folder>, torch_dtype=...)`),
   interleaved FTDR, diffusers, diffusers, FTDR, ... after --warmup untimed loads of each (the page
   cache then holds the file for both alike, as far as memory allows). Each side times the load call
   itself (process start and imports excluded) and reports its peak RSS (VmHWM) and RSS before the
   load. diffusers' from_single_file returns with most weights still memory-mapped from the file
   (safetensors maps it; tensors of the asked dtype are used as they are), so its side then reads
   every tensor once and its load time is until then, the state FTDR's load ends in (both times are
   reported). SD 1.5 loads at f32 (the file's dtype), SDXL at f16 (its file's dtype; both sides would need
   14 GB at f32, the machine this was written on has 23).
3. UNet: SDXL's UNet, one CFG step at 1024x1024 (batch 2, 128x128 latents, 77x2048 text, pooled
   embeddings and add_time_ids, t = 999), float32 on the CPU, FTDR (`ftdr_bench_compare_worker
   --task sdxl_unet`) and diffusers (bench/compare_diffusers.py's worker, the same task), each in
   its own process with --threads `intra-op:BLAS` (or each side's own: --ftdr-threads,
   --diffusers-threads). One process at a time (each holds a 10.3 GB UNet), so these runs are not
   interleaved: --unet-warmup untimed runs, then --unet-reps timed.
Prints a Markdown table with medians (and writes it, with every run, to --out).
"""
import argparse
import json
import os
import shutil
import statistics
import struct
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "scripts", "reference"))
sys.path.insert(0, os.path.join(ROOT, "bench"))
from peer_process import Worker, checkout_modified, child_json, ftdr_commit, measured_on, status_bytes  # noqa: E402

# stabilityai/stable-diffusion-xl-base-1.0: the published config files (model_index.json, unet/,
# vae/, text_encoder/, text_encoder_2/, scheduler/), with the keys diffusers 0.31 and transformers
# 4.30 read.
SDXL_UNET = {
    "_class_name": "UNet2DConditionModel", "_diffusers_version": "0.19.0.dev0", "act_fn": "silu",
    "addition_embed_type": "text_time", "addition_embed_type_num_heads": 64, "addition_time_embed_dim": 256,
    "attention_head_dim": [5, 10, 20], "block_out_channels": [320, 640, 1280], "center_input_sample": False,
    "class_embed_type": None, "class_embeddings_concat": False, "conv_in_kernel": 3, "conv_out_kernel": 3,
    "cross_attention_dim": 2048, "cross_attention_norm": None,
    "down_block_types": ["DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"],
    "downsample_padding": 1, "dual_cross_attention": False, "encoder_hid_dim": None,
    "encoder_hid_dim_type": None, "flip_sin_to_cos": True, "freq_shift": 0, "in_channels": 4,
    "layers_per_block": 2, "mid_block_only_cross_attention": None, "mid_block_scale_factor": 1,
    "mid_block_type": "UNetMidBlock2DCrossAttn", "norm_eps": 1e-05, "norm_num_groups": 32,
    "num_attention_heads": None, "num_class_embeds": None, "only_cross_attention": False, "out_channels": 4,
    "projection_class_embeddings_input_dim": 2816, "resnet_out_scale_factor": 1.0,
    "resnet_skip_time_act": False, "resnet_time_scale_shift": "default", "sample_size": 128,
    "time_cond_proj_dim": None, "time_embedding_act_fn": None, "time_embedding_dim": None,
    "time_embedding_type": "positional", "timestep_post_act": None, "transformer_layers_per_block": [1, 2, 10],
    "up_block_types": ["CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"], "upcast_attention": False,
    "use_linear_projection": True}
SDXL_VAE = {
    "_class_name": "AutoencoderKL", "_diffusers_version": "0.20.0.dev0", "act_fn": "silu",
    "block_out_channels": [128, 256, 512, 512], "down_block_types": ["DownEncoderBlock2D"] * 4,
    "force_upcast": True, "in_channels": 3, "latent_channels": 4, "layers_per_block": 2, "norm_num_groups": 32,
    "out_channels": 3, "sample_size": 1024, "scaling_factor": 0.13025, "up_block_types": ["UpDecoderBlock2D"] * 4}
CLIP_COMMON = {"attention_dropout": 0.0, "bos_token_id": 0, "dropout": 0.0, "eos_token_id": 2,
               "initializer_factor": 1.0, "initializer_range": 0.02, "layer_norm_eps": 1e-05,
               "max_position_embeddings": 77, "model_type": "clip_text_model", "pad_token_id": 1,
               "torch_dtype": "float16", "vocab_size": 49408}
SDXL_TE = dict(CLIP_COMMON, architectures=["CLIPTextModel"], hidden_act="quick_gelu", hidden_size=768,
               intermediate_size=3072, num_attention_heads=12, num_hidden_layers=12, projection_dim=768)
SDXL_TE2 = dict(CLIP_COMMON, architectures=["CLIPTextModelWithProjection"], hidden_act="gelu", hidden_size=1280,
                intermediate_size=5120, num_attention_heads=20, num_hidden_layers=32, projection_dim=1280)
SDXL_INDEX = {
    "_class_name": "StableDiffusionXLPipeline", "_diffusers_version": "0.19.0.dev0",
    "force_zeros_for_empty_prompt": True, "add_watermarker": None,
    "scheduler": ["diffusers", "EulerDiscreteScheduler"], "text_encoder": ["transformers", "CLIPTextModel"],
    "text_encoder_2": ["transformers", "CLIPTextModelWithProjection"], "tokenizer": ["transformers", "CLIPTokenizer"],
    "tokenizer_2": ["transformers", "CLIPTokenizer"], "unet": ["diffusers", "UNet2DConditionModel"],
    "vae": ["diffusers", "AutoencoderKL"]}
SDXL_SCHEDULER = {
    "_class_name": "EulerDiscreteScheduler", "_diffusers_version": "0.19.0.dev0", "beta_end": 0.012,
    "beta_schedule": "scaled_linear", "beta_start": 0.00085, "clip_sample": False, "interpolation_type": "linear",
    "num_train_timesteps": 1000, "prediction_type": "epsilon", "sample_max_value": 1.0, "set_alpha_to_one": False,
    "skip_prk_steps": True, "steps_offset": 1, "timestep_spacing": "leading", "trained_betas": None,
    "use_karras_sigmas": False}


def write_json(path, value):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(value, f, indent=2)


def tokenizer_copy(src, dest, pad):
    """A CLIP tokenizer folder; SDXL's tokenizer_2 pads with "!" (stabilityai's tokenizer_2)."""
    shutil.copytree(src, dest)
    for name in ("special_tokens_map.json", "tokenizer_config.json"):
        path = os.path.join(dest, name)
        with open(path) as f:
            value = json.load(f)
        value["pad_token"] = pad
        write_json(path, value)


def make_configs(reference, dest, sdxl):
    if os.path.isdir(dest):
        return
    tmp = dest + ".partial"
    shutil.rmtree(tmp, ignore_errors=True)
    tokenizer = os.path.join(reference, "tokenizer")
    if sdxl:
        write_json(os.path.join(tmp, "model_index.json"), SDXL_INDEX)
        write_json(os.path.join(tmp, "scheduler", "scheduler_config.json"), SDXL_SCHEDULER)
        write_json(os.path.join(tmp, "unet", "config.json"), SDXL_UNET)
        write_json(os.path.join(tmp, "vae", "config.json"), SDXL_VAE)
        write_json(os.path.join(tmp, "text_encoder", "config.json"), SDXL_TE)
        write_json(os.path.join(tmp, "text_encoder_2", "config.json"), SDXL_TE2)
        tokenizer_copy(tokenizer, os.path.join(tmp, "tokenizer"), "<|endoftext|>")
        tokenizer_copy(tokenizer, os.path.join(tmp, "tokenizer_2"), "!")
    else:
        shutil.copytree(os.path.join(reference, "sd15-configs"), tmp)
        shutil.copytree(tokenizer, os.path.join(tmp, "tokenizer"))
    os.rename(tmp, dest)


# ---------------------------------------------------------------- random weights, streamed

def meta_networks(configs, sdxl):
    """The networks' state dicts on the meta device (shapes only): nothing is allocated."""
    from accelerate import init_empty_weights
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection
    with init_empty_weights():
        nets = {"unet": UNet2DConditionModel.from_config(UNet2DConditionModel.load_config(os.path.join(configs, "unet"))),
                "vae": AutoencoderKL.from_config(AutoencoderKL.load_config(os.path.join(configs, "vae"))),
                "text_encoder": CLIPTextModel(CLIPTextConfig.from_pretrained(os.path.join(configs, "text_encoder")))}
        if sdxl:
            nets["text_encoder_2"] = CLIPTextModelWithProjection(
                CLIPTextConfig.from_pretrained(os.path.join(configs, "text_encoder_2")))
    return {name: net.state_dict() for name, net in nets.items()}


def original_layout(configs, sdxl):
    """[(key, shape, is_float)] of the original single-file layout (single_file.py's names)."""
    import torch
    from single_file import fuse_in_proj, open_clip_keys, unet_key, vae_key
    nets = meta_networks(configs, sdxl)
    with open(os.path.join(configs, "unet", "config.json")) as f:
        unet_cfg = json.load(f)
    out = {}
    for k, v in nets["unet"].items():
        if k.startswith("add_embedding."):
            k2 = k.replace("add_embedding.linear_1", "label_emb.0.0").replace("add_embedding.linear_2", "label_emb.0.2")
        else:
            k2 = unet_key(k, unet_cfg)
        out["model.diffusion_model." + k2] = v
    with open(os.path.join(configs, "vae", "config.json")) as f:
        levels = len(json.load(f)["block_out_channels"])
    for k, v in nets["vae"].items():
        key, conv = vae_key(k, levels)
        out["first_stage_model." + key] = v.reshape(*v.shape, 1, 1) if conv else v
    te_prefix = "conditioner.embedders.0.transformer." if sdxl else "cond_stage_model.transformer."
    for k, v in nets["text_encoder"].items():
        out[te_prefix + k] = v
    if sdxl:
        te2 = {}
        for k, v in nets["text_encoder_2"].items():
            if k == "text_projection.weight":
                te2["conditioner.embedders.1.model.text_projection"] = v.T
            elif not k.endswith("position_ids"):
                open_clip_keys(k, v, te2, "conditioner.embedders.1.model.")
        fuse_in_proj(te2)
        te2["conditioner.embedders.1.model.logit_scale"] = torch.empty((), device="meta")
        out.update(te2)
    return [(k, list(v.shape), v.is_floating_point()) for k, v in out.items()]


def write_random_safetensors(path, entries, f16, seed):
    """A safetensors file of N(0, 0.02^2) floats (F16 or F32) and arange integers (position_ids),
    written one tensor at a time."""
    import numpy as np
    import torch
    header, offset = {"__metadata__": {"format": "pt"}}, 0
    for key, shape, is_float in entries:
        size = int(np.prod(shape)) * (2 if f16 and is_float else 4 if is_float else 8)
        header[key] = {"dtype": ("F16" if f16 else "F32") if is_float else "I64", "shape": shape,
                       "data_offsets": [offset, offset + size]}
        offset += size
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    gen = torch.Generator().manual_seed(seed)
    tmp = path + ".partial"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text)
        for key, shape, is_float in entries:
            n = int(np.prod(shape))
            if is_float:
                t = torch.randn(n, generator=gen) * 0.02
                f.write((t.half() if f16 else t).numpy().tobytes())
            else:
                f.write((torch.arange(n, dtype=torch.int64) % shape[-1]).numpy().tobytes())
    os.rename(tmp, path)
    return offset


def make_files(args, single_files, log):
    """The configs, the single files when single_files, and the SDXL UNet folder."""
    os.makedirs(args.dir, exist_ok=True)
    cfg15, cfgxl = os.path.join(args.dir, "configs-sd15"), os.path.join(args.dir, "configs-sdxl")
    make_configs(args.reference, cfg15, sdxl=False)
    make_configs(args.reference, cfgxl, sdxl=True)
    files = {"sd15": os.path.join(args.dir, "sd15-random.safetensors"),
             "sdxl": os.path.join(args.dir, "sdxl-random.safetensors")}
    for name, configs, f16, seed in (("sd15", cfg15, False, 15), ("sdxl", cfgxl, True, 1024)):
        if single_files and not os.path.exists(files[name]):
            log(f"writing {files[name]}")
            start = time.perf_counter()
            size = write_random_safetensors(files[name], original_layout(configs, name == "sdxl"), f16, seed)
            log(f"  {size / 1e9:.2f} GB of tensors in {time.perf_counter() - start:.0f} s")
    unet_dir = os.path.join(args.dir, "sdxl-unet")
    if not os.path.isdir(unet_dir):
        log(f"writing {unet_dir}")
        tmp = unet_dir + ".partial"
        os.makedirs(tmp, exist_ok=True)
        write_json(os.path.join(tmp, "config.json"), SDXL_UNET)
        entries = [(k, list(v.shape), True) for k, v in meta_networks(cfgxl, True)["unet"].items()]
        write_random_safetensors(os.path.join(tmp, "diffusion_pytorch_model.safetensors"), entries, True, 2048)
        os.rename(tmp, unet_dir)
    return files, {"sd15": cfg15, "sdxl": cfgxl}, unet_dir


# ---------------------------------------------------------------- loads, each in its own process

def diffusers_load(path, configs, dtype, sdxl):
    """--diffusers-load: one from_single_file in this process; one JSON line."""
    import torch
    from diffusers import StableDiffusionPipeline, StableDiffusionXLPipeline
    before = status_bytes("VmRSS")
    start = time.perf_counter()
    kwargs = {"add_watermarker": False} if sdxl else {}
    cls = StableDiffusionXLPipeline if sdxl else StableDiffusionPipeline
    pipe = cls.from_single_file(path, config=configs, local_files_only=True,
                                torch_dtype=torch.float16 if dtype == "f16" else torch.float32, **kwargs)
    seconds = time.perf_counter() - start
    lazy_peak = status_bytes("VmHWM")
    # safetensors maps the file and diffusers 0.31 keeps those tensors as the parameters when the dtype
    # already matches: from_single_file returns before most weights were read. Reading every tensor
    # once (what the first step does) makes the weights resident, as FTDR's load leaves them.
    tensors = [t for m in pipe.components.values() if isinstance(m, torch.nn.Module)
               for t in list(m.parameters()) + list(m.buffers())]
    with torch.no_grad():
        for t in tensors:
            (t.view(torch.uint8) if t.dim() > 0 and t.is_contiguous() else t).max()
    resident = time.perf_counter() - start
    components = sorted(n for n, m in pipe.components.items() if isinstance(m, torch.nn.Module))
    weights = sum(t.numel() * t.element_size() for t in tensors)
    print(json.dumps({"load_s": round(resident, 3), "from_single_file_s": round(seconds, 3),
                      "weights_bytes": weights, "rss_before": before, "peak_rss_lazy": lazy_peak,
                      "peak_rss": status_bytes("VmHWM"), "components": components}), flush=True)


def time_loads(name, path, configs, dtype, args, log):
    sides = {"ftdr": [args.ftdr_single_file, "--time-load", path, dtype],
             "diffusers": [sys.executable, os.path.abspath(__file__), "--diffusers-load", path, configs, dtype,
                           "sdxl" if name == "sdxl" else "sd15"]}
    for _ in range(args.warmup):
        for side, argv in sides.items():
            log(f"  {name} {side} warm-up load: {child_json(argv)['load_s']:.1f} s")
    runs = {side: [] for side in sides}
    for rep in range(args.reps):
        for side in (["ftdr", "diffusers"] if rep % 2 == 0 else ["diffusers", "ftdr"]):
            r = child_json(sides[side])
            runs[side].append(r)
            lazy = f" (from_single_file returned at {r['from_single_file_s']:.1f} s)" if side == "diffusers" else ""
            log(f"  {name} {side}: {r['load_s']:.1f} s{lazy}, peak RSS {r['peak_rss'] / 1e9:.2f} GB "
                f"(before {r['rss_before'] / 1e9:.2f} GB), weights {r['weights_bytes'] / 1e9:.2f} GB")
    return runs


# ---------------------------------------------------------------- the SDXL UNet step

def time_unet(unet_dir, threads, args, log):
    """threads: {side: "intra-op:BLAS"}."""
    out = {}
    for side, argv in (("ftdr", [args.ftdr_worker, "--task", "sdxl_unet", "--model", unet_dir]),
                       ("diffusers", [sys.executable, os.path.join(ROOT, "bench", "compare_diffusers.py"),
                                      "--worker", "--task", "sdxl_unet", "--model", unet_dir])):
        start = time.perf_counter()
        w = Worker(side, argv)
        load = time.perf_counter() - start
        w.threads(threads[side])
        for _ in range(args.unet_warmup):
            log(f"  unet {side} warm-up: {w.run():.1f} s")
        times = []
        for _ in range(args.unet_reps):
            times.append(w.run())
            log(f"  unet {side}: {times[-1]:.1f} s")
        out[side] = {"seconds": times, "process_start_and_load_s": round(load, 1), **w.close()}
    return out


# ---------------------------------------------------------------- report

def gb(b):
    return f"{b / 1e9:.2f}"


def load_row(what, runs):
    lazy = statistics.median(r["from_single_file_s"] for r in runs["diffusers"])
    cells = []
    for side in ("diffusers", "ftdr"):
        rs = runs[side]
        t = statistics.median(r["load_s"] for r in rs)
        peak = statistics.median(r["peak_rss"] for r in rs)
        grow = statistics.median((r["peak_rss"] - r["rss_before"]) / r["weights_bytes"] for r in rs)
        cells.append((t, peak, grow, rs[0]["weights_bytes"]))
    (dt, dp, dg, dw), (ft, fp, fg, fw) = cells
    return (f"| {what} (median of {len(runs['ftdr'])}) | {dt:.1f} s ({lazy:.1f} s) | {ft:.1f} s | {ft / dt:.2f}x | "
            f"{gb(dp)} GB ({dg:.2f}x of {gb(dw)} GB) | {gb(fp)} GB ({fg:.2f}x of {gb(fw)} GB) |")


def report(rows, unet, header, threads):
    """threads: {side: "intra-op:BLAS"} of the UNet step."""
    out = [header, "",
           "Loads: until every weight is in memory; diffusers' from_single_file returns earlier (in "
           "brackets) with the weights still mapped from the file, read on first use.", "",
           "| work | diffusers 0.31 | FTDR | FTDR / diffusers | diffusers peak RSS (peak - before, x loaded "
           "weights) | FTDR peak RSS (same) |",
           "| --- | --- | --- | --- | --- | --- |"]
    out += rows
    if unet:
        d, f = unet["diffusers"], unet["ftdr"]
        dm, fm = statistics.median(d["seconds"]), statistics.median(f["seconds"])
        same = threads["ftdr"] == threads["diffusers"]
        out.append(f"| SDXL UNet, one CFG step at 1024x1024 (batch 2, 128x128 latents), f32, threads "
                   f"{threads['ftdr'] if same else 'FTDR ' + threads['ftdr'] + ', diffusers ' + threads['diffusers']} "
                   f"(median of {len(f['seconds'])}) | {dm:.1f} s | {fm:.1f} s | {fm / dm:.2f}x | "
                   f"{d['peak_rss_mb'] / 1024:.2f} GiB | {f['peak_rss_mb'] / 1024:.2f} GiB |")
    return "\n".join(out)


def describe():
    with open("/proc/meminfo") as f:
        mem = int(f.readline().split()[1]) / 1024 / 1024
    modified = " (modified)" if checkout_modified() else ""
    return (f"{measured_on(ftdr_commit() + modified)}, {mem:.0f} GiB RAM, load average "
            f"{os.getloadavg()[0]:.1f} at the start (the machine was shared with other builds).")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--diffusers-load", nargs=4, metavar=("FILE", "CONFIGS", "DTYPE", "KIND"), help=argparse.SUPPRESS)
    p.add_argument("--parts", default="load,unet", help="load, unet or both (default)")
    p.add_argument("--reps", type=int, default=3, help="timed loads per side and file")
    p.add_argument("--warmup", type=int, default=1, help="untimed loads per side and file first")
    p.add_argument("--unet-reps", type=int, default=2)
    p.add_argument("--unet-warmup", type=int, default=1)
    p.add_argument("--threads", default="2:2", help="intra-op:BLAS for the UNet step, both sides")
    p.add_argument("--ftdr-threads", help="FTDR's intra-op:BLAS for the UNet step (default --threads)")
    p.add_argument("--diffusers-threads", help="diffusers' intra-op:BLAS for the UNet step (default --threads)")
    p.add_argument("--dir", default=os.path.join(ROOT, "build", "single-file-bench"))
    p.add_argument("--reference", default=os.path.join(ROOT, "..", "shared", "reference"))
    p.add_argument("--ftdr-single-file", default=os.path.join(ROOT, "build", "release", "bench",
                                                              "ftdr_bench_single_file"))
    p.add_argument("--ftdr-worker", default=os.path.join(ROOT, "build", "release", "bench",
                                                         "ftdr_bench_compare_worker"))
    p.add_argument("--out", help="also write the table and every run (JSON) here")
    args = p.parse_args()
    if args.diffusers_load:
        path, configs, dtype, kind = args.diffusers_load
        return diffusers_load(path, configs, dtype, kind == "sdxl")
    for exe in (args.ftdr_single_file, args.ftdr_worker):
        if not os.access(exe, os.X_OK):
            raise SystemExit(f"{exe} not found (scripts/build.sh --target ftdr_bench_single_file "
                             "ftdr_bench_compare_worker)")

    def log(text):
        print(text, file=sys.stderr, flush=True)

    header = describe()
    parts = args.parts.split(",")
    threads = {"ftdr": args.ftdr_threads or args.threads, "diffusers": args.diffusers_threads or args.threads}
    files, configs, unet_dir = make_files(args, "load" in parts, log)
    raw, rows, unet = {}, [], None
    if "load" in parts:
        for name, dtype, what in (("sd15", "f32", "SD 1.5-size single file (F32, 4.27 GB), loaded at f32"),
                                  ("sdxl", "f16", "SDXL-size single file (F16, 6.94 GB), loaded at f16")):
            raw[name] = time_loads(name, files[name], configs[name], dtype, args, log)
            rows.append(load_row(what, raw[name]))
    if "unet" in parts:
        unet = raw["unet"] = time_unet(unet_dir, threads, args, log)
    text = report(rows, unet, header, threads)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n\nEvery run:\n\n```\n" + json.dumps(raw, indent=1) + "\n```\n")


if __name__ == "__main__":
    main()
