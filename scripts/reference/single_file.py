#!/usr/bin/env python3
"""Single-file checkpoints (original LDM / AUTOMATIC1111 layout) of the tiny reference pipelines.

Run on demand (not in CI), from the repository root, with the pinned packages:

    python3 -m venv /tmp/venv-single
    /tmp/venv-single/bin/pip install -r scripts/reference/requirements-single-file.txt
    /tmp/venv-single/bin/python scripts/reference/single_file.py ../shared/reference \
        plugins/backend/libtorch/tests/data/single_file

It writes, from the diffusers folders tiny-sd1 and tiny-sd2v:
  tiny-sd1.safetensors   SD 1.x layout: model.diffusion_model.*, first_stage_model.*,
                         cond_stage_model.transformer.text_model.* (+ position_ids, LDM's
                         betas/alphas_cumprod and model_ema bookkeeping, as real files have)
  tiny-sd1-vae.ckpt      tiny-sd1's VAE (first_stage_model.*) as a PyTorch zip pickle
                         {"global_step", "state_dict"}, the container of .ckpt files (kept to the
                         VAE: the whole model again would add 15 MB to git)
  tiny-sd2v.safetensors  SD 2.x layout: text encoder as OpenCLIP (cond_stage_model.model.*, fused
                         attn.in_proj_weight/bias, positional_embedding, ln_final, text_projection,
                         logit_scale)
  tiny-sd2v.yaml         the A1111 sidecar that marks it v-prediction (parameterization: "v")

The key layout is the one diffusers' conversion reads (src/diffusers/loaders/single_file_utils.py;
scripts/convert_diffusers_to_original_stable_diffusion.py writes the same). Each file is checked
with diffusers itself: StableDiffusionPipeline.from_single_file(file, config=<the folder>) must give
exactly (torch.equal) every tensor of the folder's text encoder, UNet and VAE; the .ckpt through
AutoencoderKL.from_single_file. The script fails otherwise.
"""
import json
import sys
from collections import OrderedDict
from pathlib import Path

import safetensors.torch
import torch
from diffusers import AutoencoderKL, StableDiffusionPipeline

UNET_RESNET = [("norm1", "in_layers.0"), ("conv1", "in_layers.2"), ("time_emb_proj", "emb_layers.1"),
               ("norm2", "out_layers.0"), ("conv2", "out_layers.3"), ("conv_shortcut", "skip_connection")]
UNET_TOP = [("time_embedding.linear_1", "time_embed.0"), ("time_embedding.linear_2", "time_embed.2"),
            ("conv_in", "input_blocks.0.0"), ("conv_norm_out", "out.0"), ("conv_out", "out.2")]
VAE_ATTN = [("group_norm", "norm"), ("to_q", "q"), ("to_k", "k"), ("to_v", "v"), ("to_out.0", "proj_out")]


def rename_head(rest, table):
    for ours, theirs in table:
        if rest.startswith(ours + "."):
            return theirs + rest[len(ours):]
    return rest


def unet_key(key, cfg):
    for ours, theirs in UNET_TOP:
        if key.startswith(ours + "."):
            return theirs + key[len(ours):]
    lpb = cfg["layers_per_block"]
    p = key.split(".")
    rest = ".".join(p[4:])
    if p[0] == "down_blocks":
        b, kind, l = int(p[1]), p[2], int(p[3])
        first = 1 + b * (lpb + 1)
        if kind == "resnets":
            return f"input_blocks.{first + l}.0." + rename_head(rest, UNET_RESNET)
        if kind == "attentions":
            return f"input_blocks.{first + l}.1." + rest
        return f"input_blocks.{first + lpb}.0.op." + rest[len("conv."):]
    if p[0] == "up_blocks":
        b, kind, l = int(p[1]), p[2], int(p[3])
        first = b * (lpb + 1)
        if kind == "resnets":
            return f"output_blocks.{first + l}.0." + rename_head(rest, UNET_RESNET)
        if kind == "attentions":
            return f"output_blocks.{first + l}.1." + rest
        sub = 2 if cfg["up_block_types"][b] == "CrossAttnUpBlock2D" else 1
        return f"output_blocks.{first + lpb}.{sub}." + rest
    if p[0] == "mid_block":
        l, rest = int(p[2]), ".".join(p[3:])
        if p[1] == "resnets":
            return f"middle_block.{2 * l}." + rename_head(rest, UNET_RESNET)
        return "middle_block.1." + rest
    raise KeyError(key)


def vae_key(key, levels):
    p = key.split(".")
    if p[0] in ("quant_conv", "post_quant_conv") or p[1] in ("conv_in", "conv_out"):
        return key, False
    side = p[0]
    if p[1] == "conv_norm_out":
        return f"{side}.norm_out." + ".".join(p[2:]), False
    if p[1] == "mid_block":
        l, rest = int(p[3]), ".".join(p[4:])
        if p[2] == "resnets":
            return f"{side}.mid.block_{l + 1}." + rest, False
        return f"{side}.mid.attn_1." + rename_head(rest, VAE_ATTN), rest.endswith("weight") and "norm" not in rest
    level, kind, l, rest = int(p[2]), p[3], int(p[4]), ".".join(p[5:])
    base = f"{side}.up.{levels - 1 - level}" if side == "decoder" else f"{side}.down.{level}"
    if kind == "resnets":
        return f"{base}.block.{l}." + rest.replace("conv_shortcut", "nin_shortcut"), False
    return base + (".upsample." if side == "decoder" else ".downsample.") + rest, False


def open_clip_keys(key, tensor, out, prefix):
    top = {"text_model.embeddings.token_embedding.weight": "token_embedding.weight",
           "text_model.embeddings.position_embedding.weight": "positional_embedding",
           "text_model.final_layer_norm.weight": "ln_final.weight",
           "text_model.final_layer_norm.bias": "ln_final.bias"}
    if key in top:
        out[prefix + top[key]] = tensor
        return
    if key.endswith("position_ids"):
        return
    p = key.split(".")  # text_model.encoder.layers.I.<module...>.<weight|bias>
    block = f"{prefix}transformer.resblocks.{p[3]}."
    rest = ".".join(p[4:])
    if rest.startswith("self_attn.q_proj."):  # q, k, v fused into in_proj in this order
        out.setdefault(block + "attn.in_proj_" + p[-1] + ".parts", {})["q"] = tensor
        return
    if rest.startswith("self_attn.k_proj.") or rest.startswith("self_attn.v_proj."):
        out.setdefault(block + "attn.in_proj_" + p[-1] + ".parts", {})[rest[10]] = tensor
        return
    names = [("layer_norm1", "ln_1"), ("layer_norm2", "ln_2"), ("mlp.fc1", "mlp.c_fc"), ("mlp.fc2", "mlp.c_proj"),
             ("self_attn.out_proj", "attn.out_proj")]
    out[block + rename_head(rest, names)] = tensor


def fuse_in_proj(out):
    for key in [k for k in out if k.endswith(".parts")]:
        parts = out.pop(key)
        out[key[: -len(".parts")]] = torch.cat([parts["q"], parts["k"], parts["v"]], 0).contiguous()


def read(folder, sub, name):
    return safetensors.torch.load_file(str(folder / sub / name))


def ldm_state_dict(folder, open_clip):
    unet_cfg = json.loads((folder / "unet" / "config.json").read_text())
    vae_cfg = json.loads((folder / "vae" / "config.json").read_text())
    out = OrderedDict()
    for k, v in read(folder, "unet", "diffusion_pytorch_model.safetensors").items():
        out["model.diffusion_model." + unet_key(k, unet_cfg)] = v
    out.update(vae_state_dict(folder, "first_stage_model.", len(vae_cfg["block_out_channels"])))
    text = read(folder, "text_encoder", "model.safetensors")
    if open_clip:
        for k, v in text.items():
            open_clip_keys(k, v, out, "cond_stage_model.model.")
        fuse_in_proj(out)
        hidden = text["text_model.final_layer_norm.weight"].shape[0]
        gen = torch.Generator().manual_seed(7)
        out["cond_stage_model.model.text_projection"] = torch.randn(hidden, hidden, generator=gen)
        out["cond_stage_model.model.logit_scale"] = torch.tensor(4.6052)
    else:
        for k, v in text.items():
            out["cond_stage_model.transformer." + k] = v
    # LDM's DDPM buffers and EMA bookkeeping, as in the released checkpoints.
    betas = torch.linspace(0.00085 ** 0.5, 0.012 ** 0.5, 1000, dtype=torch.float64) ** 2
    out["betas"] = betas.float()
    out["alphas_cumprod"] = torch.cumprod(1 - betas, 0).float()
    out["model_ema.decay"] = torch.tensor(0.9999)
    out["model_ema.num_updates"] = torch.tensor(0, dtype=torch.int32)
    return out


def vae_state_dict(folder, prefix, levels):
    out = OrderedDict()
    for k, v in read(folder, "vae", "diffusion_pytorch_model.safetensors").items():
        key, conv = vae_key(k, levels)
        out[prefix + key] = v.reshape(*v.shape, 1, 1) if conv else v  # LDM's attention is 1x1 convs
    return out


def check_equal(name, module, folder, sub, weights):
    expected = read(folder, sub, weights)
    got = module.state_dict()
    bad = [k for k in expected if not k.endswith("position_ids") and not torch.equal(got[k], expected[k])]
    missing = [k for k in expected if k not in got]
    if bad or missing:
        sys.exit(f"{name}: {sub} differs from the folder: {bad[:5]} missing {missing[:5]}")


def verify(path, folder):
    pipe = StableDiffusionPipeline.from_single_file(
        str(path), config=str(folder), local_files_only=True, safety_checker=None,
        requires_safety_checker=False, torch_dtype=torch.float32)
    check_equal(path.name, pipe.text_encoder, folder, "text_encoder", "model.safetensors")
    check_equal(path.name, pipe.unet, folder, "unet", "diffusion_pytorch_model.safetensors")
    check_equal(path.name, pipe.vae, folder, "vae", "diffusion_pytorch_model.safetensors")
    print(f"{path.name}: diffusers from_single_file gives exactly the folder's tensors")


def main(reference, out):
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(2)
    meta = {"format": "pt"}
    for name, open_clip in (("tiny-sd1", False), ("tiny-sd2v", True)):
        folder = reference / name
        sd = ldm_state_dict(folder, open_clip)
        path = out / f"{name}.safetensors"
        safetensors.torch.save_file(sd, str(path), metadata=meta)
        verify(path, folder)
        if name == "tiny-sd1":
            vae_cfg = json.loads((folder / "vae" / "config.json").read_text())
            ckpt = out / f"{name}-vae.ckpt"
            vae_sd = vae_state_dict(folder, "first_stage_model.", len(vae_cfg["block_out_channels"]))
            torch.save({"global_step": 470000, "state_dict": vae_sd}, str(ckpt))
            vae = AutoencoderKL.from_single_file(str(ckpt), config=str(folder), subfolder="vae",
                                                 local_files_only=True)
            check_equal(ckpt.name, vae, folder, "vae", "diffusion_pytorch_model.safetensors")
            print(f"{ckpt.name}: diffusers AutoencoderKL.from_single_file gives exactly the folder's VAE")
        else:
            (out / f"{name}.yaml").write_text(
                "# A1111 sidecar (the relevant line of v2-inference-v.yaml)\n"
                "model:\n  target: ldm.models.diffusion.ddpm.LatentDiffusion\n  params:\n"
                "    parameterization: \"v\"\n")

if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: single_file.py <reference dir> <output dir>")
    main(Path(sys.argv[1]), Path(sys.argv[2]))
