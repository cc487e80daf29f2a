#!/usr/bin/env python3
"""A tiny random-weight SDXL base pipeline and diffusers' outputs for it (the SDXL parity data).

Run on demand (not in CI), from the repository root, with the pinned packages:

    python3 -m venv /tmp/venv-sdxl
    /tmp/venv-sdxl/bin/pip install -r scripts/reference/requirements-sdxl.txt
    /tmp/venv-sdxl/bin/python scripts/reference/sdxl.py ../shared/reference/tokenizer \
        plugins/backend/libtorch/tests/data

It writes under <output dir>:
  tiny-sdxl/                 a diffusers StableDiffusionXLPipeline folder (model_index.json,
                             scheduler/, text_encoder/, text_encoder_2/, tokenizer/, tokenizer_2/,
                             unet/, vae/), weights stored as F16 safetensors to stay small (the values
                             are rounded to f16 first, so f32 and f16 storage hold the same numbers
                             and every reference below is computed in f32 from exactly them)
  tiny-sdxl/reference.safetensors, reference.json
                             diffusers' outputs (all computed in float32 on the CPU): both text
                             encoders' hidden states and pooled / projected outputs, the pipeline's
                             encode_prompt, one UNet call with the text_time added embedding, one VAE
                             decode, and whole-pipeline runs (Euler, Euler a, DPM++ 2M Karras, 4 steps,
                             guidance 5, 64x64 and 64x96) with their initial and final latents and
                             images; reference.json (strict JSON: non-finite floats as "inf", "-inf",
                             "nan") says what each entry is and how each run was made
  single_file/tiny-sdxl.safetensors
                             the same model in the original SDXL single-file layout
                             (conditioner.embedders.0.transformer.* CLIP-L, conditioner.embedders.1.model.*
                             OpenCLIP with text_projection, model.diffusion_model.* with label_emb,
                             first_stage_model.*), checked with diffusers itself:
                             StableDiffusionXLPipeline.from_single_file(file, config=tiny-sdxl) must give
                             exactly (torch.equal) the folder's tensors.

The tiny model follows hf-internal-testing's SDXL test config (diffusers
tests/pipelines/stable_diffusion_xl/test_stable_diffusion_xl.py) at half the channels: UNet
(16, 32) channels, DownBlock2D + CrossAttnDownBlock2D, transformer_layers_per_block (1, 2),
attention_head_dim (2, 4), linear projection, addition_embed_type "text_time",
addition_time_embed_dim 8, projection_class_embeddings_input_dim 8 * 6 + 40, cross_attention_dim 80
(= 32 + 48, the two encoders' widths); CLIPTextModel (width 32, quick_gelu, 5 layers) +
CLIPTextModelWithProjection (width 48, gelu, 4 layers, projection 40): the widths differ because
diffusers' single-file loader tells the two encoders apart by their width; a 1000-entry CLIP BPE vocabulary (the 512 byte tokens, the first
486 merges of OpenAI CLIP's, <|startoftext|> 998, <|endoftext|> 999; tokenizer_2 pads with "!" as
SDXL's does); VAE scaling_factor 0.13025 and force_upcast true; SDXL base's scheduler_config.json
(EulerDiscreteScheduler, timestep_spacing "leading"); force_zeros_for_empty_prompt true.
Weights: the libraries' initialisation after torch.manual_seed(0), then every parameter += N(0, 0.02^2),
then rounded to f16.
"""
import json
import sys
from collections import OrderedDict
from pathlib import Path

import safetensors.torch
import torch
from diffusers import (AutoencoderKL, DPMSolverMultistepScheduler, EulerAncestralDiscreteScheduler,
                       EulerDiscreteScheduler, StableDiffusionXLPipeline, UNet2DConditionModel)
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection, CLIPTokenizer

sys.path.insert(0, str(Path(__file__).resolve().parent))
from single_file import fuse_in_proj, open_clip_keys, unet_key, vae_state_dict  # noqa: E402

MERGES = 486
SCHEDULER = {  # stabilityai/stable-diffusion-xl-base-1.0 scheduler/scheduler_config.json
    "_class_name": "EulerDiscreteScheduler", "_diffusers_version": "0.19.0.dev0", "beta_end": 0.012,
    "beta_schedule": "scaled_linear", "beta_start": 0.00085, "clip_sample": False,
    "interpolation_type": "linear", "num_train_timesteps": 1000, "prediction_type": "epsilon",
    "sample_max_value": 1.0, "set_alpha_to_one": False, "skip_prk_steps": True, "steps_offset": 1,
    "timestep_spacing": "leading", "trained_betas": None, "use_karras_sigmas": False}
PROMPTS = ["a photo of an astronaut riding a horse on mars", "", "blurry, low quality",
           "A CAT, sitting; on 2 mats!"]
RUNS = {  # name: (scheduler class, overrides, height, width, negative prompt, latent seed, generator seed)
    "pipe.euler.s4": (EulerDiscreteScheduler, {}, 64, 64, "blurry, low quality", 101, 201),
    "pipe.euler_a.s4": (EulerAncestralDiscreteScheduler, {}, 64, 64, "blurry, low quality", 102, 202),
    "pipe.dpmpp_2m_karras.s4": (DPMSolverMultistepScheduler,
                                {"algorithm_type": "dpmsolver++", "solver_order": 2, "use_karras_sigmas": True},
                                64, 64, "blurry, low quality", 103, 203),
    # No negative prompt: force_zeros_for_empty_prompt makes the unconditional embeddings zeros.
    "pipe.euler.s4.noneg.h64w96": (EulerDiscreteScheduler, {}, 64, 96, None, 104, 204),
}
PROMPT = PROMPTS[0]
GUIDANCE = 5.0
STEPS = 4


def tokenizer_files(src, out, pad):
    lines = (src / "merges.txt").read_text(encoding="utf-8").split("\n")
    merges = lines[1:1 + MERGES]
    full = json.loads((src / "vocab.json").read_text(encoding="utf-8"))
    by_id = sorted(full.items(), key=lambda kv: kv[1])
    vocab = {tok: i for i, (tok, _) in enumerate(by_id[:512])}
    for m in merges:
        vocab["".join(m.split(" "))] = len(vocab)
    vocab["<|startoftext|>"] = len(vocab)
    vocab["<|endoftext|>"] = len(vocab)
    assert len(vocab) == 1000, len(vocab)
    out.mkdir(parents=True, exist_ok=True)
    (out / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    (out / "merges.txt").write_text("\n".join(["#version: 0.2"] + merges) + "\n", encoding="utf-8")
    for name in ("special_tokens_map.json", "tokenizer_config.json"):
        cfg = json.loads((src / name).read_text())
        cfg["pad_token"] = pad
        (out / name).write_text(json.dumps(cfg, indent=2) + "\n")
    return CLIPTokenizer.from_pretrained(str(out))


def perturb_and_round(module, seed):
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for _, p in sorted(module.named_parameters()):
            p += torch.randn(p.shape, generator=gen) * 0.02
            p.copy_(p.half().float())
    return module.eval()


def build_models(tok_src, folder):
    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        block_out_channels=(16, 32), layers_per_block=2, sample_size=32, in_channels=4, out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        attention_head_dim=(2, 4), use_linear_projection=True, addition_embed_type="text_time",
        addition_time_embed_dim=8, transformer_layers_per_block=(1, 2),
        projection_class_embeddings_input_dim=8 * 6 + 40, cross_attention_dim=32 + 48, norm_num_groups=8)
    vae = AutoencoderKL(
        block_out_channels=[16, 32], in_channels=3, out_channels=3, norm_num_groups=8,
        down_block_types=["DownEncoderBlock2D"] * 2, up_block_types=["UpDecoderBlock2D"] * 2,
        latent_channels=4, sample_size=64, scaling_factor=0.13025, force_upcast=True)
    common = dict(bos_token_id=0, eos_token_id=2, pad_token_id=1, vocab_size=1000, layer_norm_eps=1e-5,
                  max_position_embeddings=77)
    te1 = CLIPTextModel(CLIPTextConfig(hidden_size=32, intermediate_size=37, num_attention_heads=4,
                                       num_hidden_layers=5, hidden_act="quick_gelu", **common))
    te2 = CLIPTextModelWithProjection(CLIPTextConfig(hidden_size=48, intermediate_size=64, num_attention_heads=2,
                                                     num_hidden_layers=4, hidden_act="gelu", projection_dim=40,
                                                     **common))
    for i, m in enumerate((unet, vae, te1, te2)):
        perturb_and_round(m, 1000 + i)
    tok1 = tokenizer_files(tok_src, folder / "tokenizer", "<|endoftext|>")
    tok2 = tokenizer_files(tok_src, folder / "tokenizer_2", "!")
    sched = EulerDiscreteScheduler.from_config(SCHEDULER)
    return StableDiffusionXLPipeline(vae=vae, text_encoder=te1, text_encoder_2=te2, tokenizer=tok1,
                                     tokenizer_2=tok2, unet=unet, scheduler=sched,
                                     force_zeros_for_empty_prompt=True, add_watermarker=False)


def save_folder(pipe, folder):
    pipe.save_pretrained(str(folder), safe_serialization=True)
    for sub in ("unet", "vae", "text_encoder", "text_encoder_2"):
        for f in (folder / sub).glob("*.safetensors"):
            sd = safetensors.torch.load_file(str(f))
            safetensors.torch.save_file({k: v.half() if v.is_floating_point() else v for k, v in sd.items()},
                                        str(f), metadata={"format": "pt"})
    (folder / "scheduler" / "scheduler_config.json").write_text(json.dumps(SCHEDULER, indent=2) + "\n")
    loaded = StableDiffusionXLPipeline.from_pretrained(str(folder), torch_dtype=torch.float32,
                                                       add_watermarker=False)
    for sub in ("unet", "vae", "text_encoder", "text_encoder_2"):
        check_same(f"{folder.name}/{sub}", getattr(loaded, sub).state_dict(), getattr(pipe, sub).state_dict())


def check_same(name, got, expected):
    bad = [k for k in expected if k not in got or not torch.equal(got[k].float(), expected[k].float())]
    if bad:
        sys.exit(f"{name}: differs from the in-memory model: {bad[:5]}")


class Recorder:
    def __init__(self):
        self.tensors, self.entries = OrderedDict(), OrderedDict()

    def add(self, name, tensor, description):
        self.tensors[name] = tensor.detach().contiguous().clone()
        self.entries[name] = {"shape": list(tensor.shape), "description": description}


@torch.no_grad()
def text_encoder_reference(pipe, rec):
    for label, tok, te in (("text_encoder", pipe.tokenizer, pipe.text_encoder),
                           ("text_encoder_2", pipe.tokenizer_2, pipe.text_encoder_2)):
        ids = tok(PROMPTS, padding="max_length", max_length=77, truncation=True, return_tensors="pt").input_ids
        out = te(ids, output_hidden_states=True)
        rec.add(f"{label}.input_ids", ids, f"{label[:-len('text_encoder')] or ''}tokenizer ids of reference.json prompts")
        rec.add(f"{label}.hidden_states", torch.stack(out.hidden_states)[:, :2],
                "prompts 0, 1: embedding output, then each layer's output (no final_layer_norm): [L+1, 2, 77, D]")
        if label == "text_encoder":
            rec.add(f"{label}.last_hidden_state", out.last_hidden_state, "after final_layer_norm")
            rec.add(f"{label}.pooler_output", out.pooler_output, "final_layer_norm'ed state at argmax(ids)")
        else:
            rec.add(f"{label}.last_hidden_state", out.last_hidden_state, "after final_layer_norm")
            rec.add(f"{label}.text_embeds", out.text_embeds, "text_projection(pooled output): SDXL's pooled embeds")
    for which, prompt in (("prompt", PROMPT), ("negative_prompt", "blurry, low quality"), ("empty", "")):
        pe, _, pooled, _ = pipe.encode_prompt(prompt, device="cpu", num_images_per_prompt=1,
                                              do_classifier_free_guidance=False)
        rec.add(f"pipe.{which}.prompt_embeds", pe,
                "encode_prompt: cat(text_encoder hidden_states[-2], text_encoder_2 hidden_states[-2], -1)")
        rec.add(f"pipe.{which}.pooled_prompt_embeds", pooled, "encode_prompt: text_encoder_2 text_embeds")


@torch.no_grad()
def unet_reference(pipe, rec):
    gen = torch.Generator().manual_seed(11)
    sample = torch.randn((2, 4, 16, 16), generator=gen)
    ehs = torch.cat([rec.tensors["pipe.prompt.prompt_embeds"], rec.tensors["pipe.negative_prompt.prompt_embeds"]])
    text_embeds = torch.cat([rec.tensors["pipe.prompt.pooled_prompt_embeds"],
                             rec.tensors["pipe.negative_prompt.pooled_prompt_embeds"]])
    time_ids = torch.tensor([[64.0, 64.0, 0.0, 0.0, 64.0, 64.0], [1024.0, 768.0, 16.0, 8.0, 64.0, 96.0]])
    rec.add("unet.sample", sample, "randn((2, 4, 16, 16), manual_seed(11))")
    rec.add("unet.encoder_hidden_states", ehs, "cat(pipe.prompt.prompt_embeds, pipe.negative_prompt.prompt_embeds)")
    rec.add("unet.text_embeds", text_embeds, "added_cond_kwargs text_embeds: the two pooled embeds")
    rec.add("unet.time_ids", time_ids, "added_cond_kwargs time_ids: (orig h, orig w, crop top, crop left, h, w)")
    for name, t in (("out_t999", torch.tensor(999)), ("out_t457_25", torch.tensor(457.25))):
        out = pipe.unet(sample, t, encoder_hidden_states=ehs,
                        added_cond_kwargs={"text_embeds": text_embeds, "time_ids": time_ids}).sample
        rec.add(f"unet.{name}", out, f"unet(sample, {t.item()}, ehs, added_cond_kwargs).sample")


@torch.no_grad()
def vae_reference(pipe, rec):
    latents = torch.randn((1, 4, 16, 16), generator=torch.Generator().manual_seed(12))
    rec.add("vae.latents", latents, "randn((1, 4, 16, 16), manual_seed(12))")
    rec.add("vae.decode_input", latents / pipe.vae.config.scaling_factor, "latents / scaling_factor (0.13025)")
    rec.add("vae.decode_output", pipe.vae.decode(latents / pipe.vae.config.scaling_factor).sample,
            "vae.decode(decode_input).sample, raw")


@torch.no_grad()
def pipeline_runs(pipe, rec):
    runs = OrderedDict()
    base = pipe.scheduler.config
    for run, (cls, overrides, h, w, negative, latent_seed, gen_seed) in RUNS.items():
        sched = cls.from_config(base, **overrides)
        p = StableDiffusionXLPipeline(vae=pipe.vae, text_encoder=pipe.text_encoder, text_encoder_2=pipe.text_encoder_2,
                                      tokenizer=pipe.tokenizer, tokenizer_2=pipe.tokenizer_2, unet=pipe.unet,
                                      scheduler=sched, force_zeros_for_empty_prompt=True, add_watermarker=False)
        latents = torch.randn((1, 4, h // 2, w // 2), generator=torch.Generator().manual_seed(latent_seed))
        steps = []

        def on_step(_pipe, i, t, kw):
            steps.append((float(t), kw["latents"].clone()))
            return kw

        image = p(prompt=PROMPT, negative_prompt=negative, height=h, width=w, num_inference_steps=STEPS,
                  guidance_scale=GUIDANCE, generator=torch.Generator().manual_seed(gen_seed), latents=latents,
                  output_type="np", callback_on_step_end=on_step, callback_on_step_end_tensor_inputs=["latents"]).images
        rec.add(f"{run}.latents_init", latents, f"randn((1, 4, {h // 2}, {w // 2}), manual_seed({latent_seed}))")
        rec.add(f"{run}.latents_final", steps[-1][1], "latents after the last step")
        rec.add(f"{run}.image", torch.from_numpy(image), "pipeline output, output_type np: [1, H, W, 3] in [0, 1]")
        runs[run] = {
            "scheduler": cls.__name__, "scheduler_overrides_on_pipe_config": overrides,
            "scheduler_resolved_config": dict(sched.config), "prompt": PROMPT, "negative_prompt": negative,
            "guidance_scale": GUIDANCE, "num_inference_steps": STEPS, "height": h, "width": w,
            "latent_seed": latent_seed, "generator_seed": gen_seed, "eta": 0.0, "output_type": "np",
            "timesteps": [t for t, _ in steps], "init_noise_sigma": float(sched.init_noise_sigma),
            "add_time_ids": [h, w, 0, 0, h, w],
            "uncond": "zeros (force_zeros_for_empty_prompt)" if negative is None else "encode_prompt(negative_prompt)"}
    return runs


def single_file(folder, pipe, path):
    unet_cfg = json.loads((folder / "unet" / "config.json").read_text())
    out = OrderedDict()
    for k, v in pipe.unet.state_dict().items():
        if k.startswith("add_embedding."):
            key = k.replace("add_embedding.linear_1", "label_emb.0.0").replace("add_embedding.linear_2", "label_emb.0.2")
        else:
            key = unet_key(k, unet_cfg)
        out["model.diffusion_model." + key] = v.half()
    out.update({k: v.half() for k, v in vae_state_dict(folder, "first_stage_model.", 2).items()})
    for k, v in pipe.text_encoder.state_dict().items():
        out["conditioner.embedders.0.transformer." + k] = v.half() if v.is_floating_point() else v
    te2 = OrderedDict()
    for k, v in pipe.text_encoder_2.state_dict().items():
        if k == "text_projection.weight":
            te2["conditioner.embedders.1.model.text_projection"] = v.T.contiguous().half()
        elif not k.endswith("position_ids"):
            open_clip_keys(k, v.half(), te2, "conditioner.embedders.1.model.")
    fuse_in_proj(te2)
    te2["conditioner.embedders.1.model.logit_scale"] = torch.tensor(4.6052).half()
    out.update(te2)
    path.parent.mkdir(parents=True, exist_ok=True)
    safetensors.torch.save_file(out, str(path), metadata={"format": "pt"})
    loaded = StableDiffusionXLPipeline.from_single_file(str(path), config=str(folder), local_files_only=True,
                                                        torch_dtype=torch.float32, add_watermarker=False)
    for sub in ("unet", "vae", "text_encoder", "text_encoder_2"):
        got = {k: v for k, v in getattr(loaded, sub).state_dict().items() if not k.endswith("position_ids")}
        check_same(f"{path.name} {sub}", got,
                   {k: v for k, v in getattr(pipe, sub).state_dict().items() if not k.endswith("position_ids")})
    print(f"{path.name}: diffusers from_single_file gives exactly the folder's tensors")


def strict_json(value):
    """Non-finite floats (DPM++'s lambda_min_clipped) as the strings "inf", "-inf", "nan" (strict JSON)."""
    if isinstance(value, float) and value != value:
        return "nan"
    if isinstance(value, float) and value in (float("inf"), float("-inf")):
        return "inf" if value > 0 else "-inf"
    if isinstance(value, dict):
        return {k: strict_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict_json(v) for v in value]
    return value


def main(tok_src, out):
    torch.set_num_threads(2)
    folder = out / "tiny-sdxl"
    folder.mkdir(parents=True, exist_ok=True)
    pipe = build_models(tok_src, folder)
    save_folder(pipe, folder)
    rec = Recorder()
    text_encoder_reference(pipe, rec)
    unet_reference(pipe, rec)
    vae_reference(pipe, rec)
    runs = pipeline_runs(pipe, rec)
    safetensors.torch.save_file(rec.tensors, str(folder / "reference.safetensors"), metadata={"format": "pt"})
    import diffusers
    import transformers
    ref = {"description": __doc__, "prompts": PROMPTS, "entries": rec.entries, "runs": runs,
           "vae_scale_factor": 2, "vae_scaling_factor": pipe.vae.config.scaling_factor,
           "versions": {"torch": torch.__version__, "diffusers": diffusers.__version__,
                        "transformers": transformers.__version__}}
    (folder / "reference.json").write_text(json.dumps(strict_json(ref), indent=1, allow_nan=False) + "\n")
    single_file(folder, pipe, out / "single_file" / "tiny-sdxl.safetensors")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: sdxl.py <CLIP tokenizer dir (vocab.json, merges.txt)> <output dir>")
    main(Path(sys.argv[1]), Path(sys.argv[2]))
