#!/usr/bin/env python3
"""LoRA reference data: small seeded LoRA files for the tiny reference pipelines, and diffusers'
images with them fused.

Run on demand (not in CI), from the repository root, with the pinned packages:

    python3 -m venv /tmp/venv-lora
    /tmp/venv-lora/bin/pip install -r scripts/reference/requirements-lora.txt
    /tmp/venv-lora/bin/python scripts/reference/lora.py ../shared/reference \
        plugins/backend/libtorch/tests/data/lora

tiny-sd1 and tiny-sd2v are read from the first folder, tiny-sdxl (scripts/reference/sdxl.py's tiny
StableDiffusionXLPipeline) from the output folder's sibling tiny-sdxl/ (the tests' data folder). For
each model it writes into the output folder:
  <model>-kohya.safetensors   kohya / A1111 format: lora_unet_<path with _>.lora_down.weight,
                              .lora_up.weight, .alpha (alpha != rank: scale alpha/rank), Linear
                              layers, 1x1 convs (SD 1.x proj_in/proj_out, conv_shortcut) and
                              "LoCon" 3x3 convs (lora_down a 3x3 conv, lora_up 1x1); lora_te_* for
                              the text encoder; for SDXL lora_te1_* (CLIP ViT-L, text_encoder) and
                              lora_te2_* (OpenCLIP bigG, text_encoder_2) instead
  <model>-peft.safetensors    diffusers / PEFT format: unet.<path>.lora_A.weight / .lora_B.weight,
                              text_encoder.<path>.lora_A.weight / .lora_B.weight (scale 1);
                              SDXL: also text_encoder_2.<path>.*
  <model>-old.safetensors     the older diffusers keys: unet.<path>.lora.down.weight / .lora.up.weight,
                              text_encoder.<path>.lora_linear_layer.down.weight / .up.weight
                              (SD 1.x / 2.x only: SDXL files in that layout are not around)
  <model>-images.safetensors  U8 images [1, 64, 64, 3] = round(255 * pipeline output), one per case
and cases.json: every case (model, LoRA files with scales, sampler, prompt, seeds) and the largest
pixel difference of each LoRA image to the image without LoRA (so a LoRA that changes nothing would
show).

Each image is exactly: StableDiffusionPipeline.from_pretrained(<model>) (tiny-sdxl:
StableDiffusionXLPipeline, add_watermarker=False), its scheduler replaced by
EulerDiscreteScheduler.from_config(pipe.scheduler.config), then pipe.load_lora_weights(file,
adapter_name=...) for each LoRA of the case and pipe.fuse_lora(lora_scale=scale) (two LoRAs:
pipe.set_adapters(names, adapter_weights=scales), pipe.fuse_lora()), then the reference run
pipe.euler.s4 of the model's reference.json: pipe(prompt, negative_prompt, 64x64, 4 steps, its
guidance (7.5; SDXL 5), latents=randn((1, 4, 32, 32), manual_seed(latent_seed)), output_type="np").
Without LoRA that image must equal the recorded pipe.euler.s4 image within one level (checked).

The script checks diffusers' fused weights itself: every targeted layer must equal
W + scale * alpha/rank * up @ down (flattened for convs) within 1e-6 and every other parameter must be
unchanged, so a key diffusers maps elsewhere (or not at all) fails the script instead of the test.
"""
import json
import sys
from pathlib import Path

import numpy as np
import safetensors.torch
import torch
from diffusers import EulerDiscreteScheduler, StableDiffusionPipeline, StableDiffusionXLPipeline

RANK = 4
SEED = 1234
RUN = "pipe.euler.s4"  # prompt, negative prompt, latent seed of this reference run (reference.json)

# Module paths (diffusers / transformers names) that the LoRAs target.
UNET_TARGETS = {
    "tiny-sd1": [
        "down_blocks.1.attentions.0.transformer_blocks.0.attn1.to_q",
        "down_blocks.1.attentions.0.transformer_blocks.0.attn1.to_k",
        "down_blocks.1.attentions.0.transformer_blocks.0.attn1.to_v",
        "down_blocks.1.attentions.0.transformer_blocks.0.attn1.to_out.0",
        "down_blocks.1.attentions.0.transformer_blocks.0.attn2.to_k",
        "down_blocks.1.attentions.0.transformer_blocks.0.attn2.to_v",
        "down_blocks.1.attentions.0.transformer_blocks.0.ff.net.0.proj",
        "down_blocks.1.attentions.0.transformer_blocks.0.ff.net.2",
        "down_blocks.1.attentions.0.proj_in",            # 1x1 conv (use_linear_projection false)
        "down_blocks.1.attentions.0.proj_out",
        "mid_block.attentions.0.transformer_blocks.0.attn2.to_q",
        "up_blocks.0.attentions.1.transformer_blocks.0.attn1.to_v",
        "down_blocks.0.resnets.0.conv1",                 # 3x3 conv: LoCon
        "down_blocks.1.resnets.0.conv_shortcut",         # 1x1 conv
        "down_blocks.1.resnets.0.time_emb_proj",
        "up_blocks.1.resnets.2.conv2",                   # 3x3 conv: LoCon
    ],
    "tiny-sd2v": [
        "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q",
        "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_out.0",
        "down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k",
        "down_blocks.0.attentions.0.transformer_blocks.0.ff.net.0.proj",
        "down_blocks.0.attentions.0.proj_in",            # Linear (use_linear_projection true)
        "mid_block.attentions.0.transformer_blocks.0.attn1.to_k",
        "up_blocks.1.attentions.2.transformer_blocks.0.attn2.to_v",
        "up_blocks.1.attentions.2.proj_out",
        "down_blocks.1.resnets.0.conv1",                 # 3x3 conv: LoCon
        "up_blocks.0.resnets.1.conv_shortcut",
    ],
    # Two levels: DownBlock2D, then CrossAttnDownBlock2D with transformer_layers_per_block 2; linear
    # proj_in. No add_embedding / time_embedding layers: diffusers' kohya key conversion drops a digit
    # from any name with "emb" in it (its "SDXL specific conversions"), and kohya's SDXL LoRAs leave them.
    "tiny-sdxl": [
        "down_blocks.1.attentions.0.transformer_blocks.0.attn1.to_q",
        "down_blocks.1.attentions.0.transformer_blocks.0.attn1.to_k",
        "down_blocks.1.attentions.0.transformer_blocks.0.attn1.to_v",
        "down_blocks.1.attentions.0.transformer_blocks.0.attn1.to_out.0",
        "down_blocks.1.attentions.0.transformer_blocks.1.attn2.to_k",   # the second transformer layer
        "down_blocks.1.attentions.0.transformer_blocks.1.attn2.to_v",
        "down_blocks.1.attentions.1.transformer_blocks.0.ff.net.0.proj",
        "down_blocks.1.attentions.1.transformer_blocks.0.ff.net.2",
        "down_blocks.1.attentions.0.proj_in",            # Linear (use_linear_projection true)
        "down_blocks.1.attentions.0.proj_out",
        "mid_block.attentions.0.transformer_blocks.1.attn2.to_q",
        "up_blocks.0.attentions.2.transformer_blocks.1.attn1.to_v",
        "down_blocks.0.resnets.0.conv1",                 # 3x3 conv: LoCon
        "down_blocks.1.resnets.0.conv_shortcut",         # 1x1 conv
        "down_blocks.1.resnets.0.time_emb_proj",
        "up_blocks.1.resnets.2.conv2",                   # 3x3 conv: LoCon
    ],
}
TE_TARGETS = ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.out_proj", "mlp.fc1",
              "mlp.fc2"]
# Layers per text encoder. SDXL's conditioning is the penultimate layer's output of both encoders;
# text_encoder_2's last layer (3 of 4) feeds only the pooled embedding, so it is targeted too.
TE_LAYERS = {"text_encoder": [0, 1], "text_encoder_2": [0, 3]}
# kohya's prefix per text encoder: one encoder (SD 1.x/2.x) lora_te_, SDXL's two lora_te1_ / lora_te2_.
KOHYA_TE = {False: {"text_encoder": "lora_te_"}, True: {"text_encoder": "lora_te1_", "text_encoder_2": "lora_te2_"}}


def is_sdxl(model):
    return model == "tiny-sdxl"


def text_encoders(model):
    return ["text_encoder", "text_encoder_2"] if is_sdxl(model) else ["text_encoder"]


def rng(seed):
    return torch.Generator("cpu").manual_seed(seed)


def make_pair(module, gen, up_std):
    """lora_down / lora_up for a Linear or Conv2d (LoCon: down has the conv's kernel, up is 1x1)."""
    w = module.weight
    if w.dim() == 4:
        out_ch, in_ch, kh, kw = w.shape
        down = torch.randn((RANK, in_ch, kh, kw), generator=gen) / (in_ch * kh * kw) ** 0.5
        up = torch.randn((out_ch, RANK, 1, 1), generator=gen) * up_std
    else:
        out_f, in_f = w.shape
        down = torch.randn((RANK, in_f), generator=gen) / in_f ** 0.5
        up = torch.randn((out_f, RANK), generator=gen) * up_std
    return down, up


def delta_of(down, up, weight_shape):
    """up @ down as the layer's weight shape (PEFT's get_delta_weight for Linear / Conv2d)."""
    return (up.flatten(1) @ down.flatten(1)).reshape(weight_shape)


def make_lora(pipe, model, seed):
    """{(component, path): (down, up, alpha)} for every target; UNet alphas differ per layer."""
    gen = rng(seed)
    unet = dict(pipe.unet.named_modules())
    layers = {}
    for i, path in enumerate(UNET_TARGETS[model]):
        down, up = make_pair(unet[path], gen, 0.5)
        layers[("unet", path)] = (down, up, float(1 + i % 4))  # alpha 1..4 -> scale 0.25..1
    for e, component in enumerate(text_encoders(model)):
        te = dict(getattr(pipe, component).named_modules())
        for layer in TE_LAYERS[component]:
            for name in TE_TARGETS:
                path = f"text_model.encoder.layers.{layer}.{name}"
                down, up = make_pair(te[path], gen, 0.3)
                # One alpha per text encoder: diffusers 0.31 maps per-layer text encoder alphas to
                # the parent module (get_peft_kwargs, is_unet=False), so only a uniform alpha is exact.
                layers[(component, path)] = (down, up, 2.0 + e)
    return layers


def kohya_dict(layers, sdxl):
    out = {}
    for (component, path), (down, up, alpha) in layers.items():
        prefix = ("lora_unet_" if component == "unet" else KOHYA_TE[sdxl][component]) + path.replace(".", "_")
        out[prefix + ".lora_down.weight"] = down
        out[prefix + ".lora_up.weight"] = up
        out[prefix + ".alpha"] = torch.tensor(alpha)
    return out


def peft_dict(layers):
    """PEFT keys carry no alpha: diffusers 0.31 uses scale 1, so up is pre-multiplied by alpha/rank."""
    out = {}
    for (component, path), (down, up, alpha) in layers.items():
        out[f"{component}.{path}.lora_A.weight"] = down
        out[f"{component}.{path}.lora_B.weight"] = up * (alpha / RANK)
    return out


def old_dict(layers):
    out = {}
    for (component, path), (down, up, alpha) in layers.items():
        kind = "lora" if component == "unet" else "lora_linear_layer"
        out[f"{component}.{path}.{kind}.down.weight"] = down
        out[f"{component}.{path}.{kind}.up.weight"] = up * (alpha / RANK)
    return out


def check_fused(pipe, base, applied):
    """applied: [(layers, scale)]. Every parameter must be base + the sum of the expected deltas."""
    for component in base:
        module = getattr(pipe, component)
        params = dict(module.named_parameters())
        changed = {}
        for layers, scale in applied:
            for (comp, path), (down, up, alpha) in layers.items():
                if comp != component:
                    continue
                key = path + ".weight"
                d = scale * alpha / RANK * delta_of(down, up, base[component][key].shape)
                changed[key] = changed.get(key, 0) + d
        seen = set()
        for name, value in params.items():
            if ".lora_" in name:
                continue
            key = name.replace(".base_layer.", ".")
            seen.add(key)
            want = base[component][key] + changed[key] if key in changed else base[component][key]
            diff = (value.detach() - want).abs().max().item()
            if diff > 1e-6:
                sys.exit(f"{component}.{key}: diffusers' fused weight differs from the expected one by {diff}")
        if seen != set(base[component]):
            sys.exit(f"{component}: parameters {sorted(set(base[component]) ^ seen)[:5]} missing or new")


def apply_loras(pipe, out_dir, loras):
    """One LoRA: fuse_lora(lora_scale). Several: set_adapters with their scales, then one fuse (loading
    an adapter into a fused model unfuses it first)."""
    names = [f"a{i}" for i in range(len(loras))]
    for adapter, (name, _) in zip(names, loras):
        pipe.load_lora_weights(str(out_dir / f"{name}.safetensors"), adapter_name=adapter)
    if len(loras) == 1:
        pipe.fuse_lora(lora_scale=loras[0][1], adapter_names=names)
    elif loras:
        pipe.set_adapters(names, adapter_weights=[scale for _, scale in loras])
        pipe.fuse_lora(adapter_names=names)


def run(pipe, r):
    latents = torch.randn((1, 4, r["height"] // 2, r["width"] // 2), generator=rng(r["latent_seed"]))
    image = pipe(prompt=r["prompt"], negative_prompt=r["negative_prompt"], height=64, width=64,
                 num_inference_steps=r["num_inference_steps"], guidance_scale=r["guidance_scale"],
                 latents=latents, output_type="np").images
    return torch.from_numpy(np.round(image * 255.0).astype(np.uint8))


def check_against_reference(image, folder, model):
    """Without LoRA the image is the reference run's within one level (that was recorded with
    transformers 4.30.2, tiny-sd1/sd2v with torch 1.13.1; tiny-sd2v differs by 1 level at a few pixels)."""
    recorded = safetensors.torch.load_file(folder / "reference.safetensors")[RUN + ".image"]
    diff = (image.int() - torch.round(recorded * 255).int()).abs().max().item()
    print(model, "no-LoRA image vs recorded", RUN, ":", diff, "levels")
    if diff > 1:
        sys.exit(f"{model}: the image without LoRA differs from the recorded {RUN} by {diff} levels")


def load_pipeline(folder, model):
    if is_sdxl(model):
        return StableDiffusionXLPipeline.from_pretrained(folder, add_watermarker=False)
    return StableDiffusionPipeline.from_pretrained(folder, safety_checker=None, requires_safety_checker=False)


def lora_files(model, a, b):
    """{file name: (tensors, layers)}: kohya and PEFT for every model, the older keys for SD 1.x/2.x."""
    files = {f"{model}-kohya": (kohya_dict(a, is_sdxl(model)), a), f"{model}-peft": (peft_dict(b), b)}
    if not is_sdxl(model):
        files[f"{model}-old"] = (old_dict(a), a)
    return files


def main():
    ref_root, out_dir = Path(sys.argv[1]), Path(sys.argv[2])
    out_dir.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(2)
    cases = []
    folders = {"tiny-sd1": ref_root / "tiny-sd1", "tiny-sd2v": ref_root / "tiny-sd2v",
               "tiny-sdxl": out_dir.parent / "tiny-sdxl"}
    for m, (model, folder) in enumerate(folders.items()):
        pipe = load_pipeline(folder, model)
        pipe.scheduler = EulerDiscreteScheduler.from_config(pipe.scheduler.config)
        pipe.set_progress_bar_config(disable=True)
        r = json.loads((folder / "reference.json").read_text())["runs"][RUN]
        components = ["unet"] + text_encoders(model)
        base = {c: {k: v.detach().clone() for k, v in getattr(pipe, c).named_parameters()} for c in components}
        a = make_lora(pipe, model, SEED + 10 * m)
        b = make_lora(pipe, model, SEED + 10 * m + 1)
        files = lora_files(model, a, b)
        for name, (tensors, _) in files.items():
            safetensors.torch.save_file({k: v.contiguous() for k, v in tensors.items()},
                                        out_dir / f"{name}.safetensors")
        layers = {name: l for name, (_, l) in files.items()}
        plan = [("none", []), ("kohya-0.8", [(f"{model}-kohya", 0.8)]), ("peft-1", [(f"{model}-peft", 1.0)]),
                ("old-0.8", [(f"{model}-old", 0.8)]),
                ("kohya-0.8+peft-0.5", [(f"{model}-kohya", 0.8), (f"{model}-peft", 0.5)])]
        plan = [(case, loras) for case, loras in plan if all(n in files for n, _ in loras)]
        images = {}
        for case, loras in plan:
            apply_loras(pipe, out_dir, loras)
            check_fused(pipe, base, [(layers[n], s) for n, s in loras])
            images[case] = run(pipe, r)
            if not loras:
                check_against_reference(images[case], folder, model)
            if loras:
                pipe.unfuse_lora()
                pipe.unload_lora_weights()
                for c in components:  # unfusing subtracts: put the exact weights back
                    getattr(pipe, c).load_state_dict(base[c], strict=False)
            cases.append({"model": model, "case": case, "image": f"{case}",
                          "loras": [{"name": n, "scale": s} for n, s in loras],
                          "max_diff_to_no_lora": int((images[case].int() - images["none"].int()).abs().max())
                          if case != "none" else 0})
        safetensors.torch.save_file({k: v.contiguous() for k, v in images.items()},
                                    out_dir / f"{model}-images.safetensors")
    meta = {"run": RUN, "sampler": "euler", "rank": RANK,
            "scheduler": "EulerDiscreteScheduler.from_config(pipe.scheduler.config)", "cases": cases}
    (out_dir / "cases.json").write_text(json.dumps(meta, indent=1) + "\n")
    for c in cases:
        print(c["model"], c["case"], "max |image - no LoRA| =", c["max_diff_to_no_lora"])


if __name__ == "__main__":
    main()
