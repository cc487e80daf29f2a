#!/usr/bin/env python3
"""Expected conditioning for AUTOMATIC1111's prompt syntax, on the tiny reference models.

Run on demand (not in CI), from the repository root, with the pinned packages:

    python3 -m venv /tmp/venv-a1111
    /tmp/venv-a1111/bin/pip install -r scripts/reference/requirements-a1111.txt
    /tmp/venv-a1111/bin/python scripts/reference/a1111_prompts.py ../shared/reference \
        plugins/backend/libtorch/tests/data/a1111_prompts

It writes cases.json (the prompts, their parsed runs and chunk counts) and <model>.safetensors per
model (per case: the encoder's ids and the float32 weights of every chunk, the conditioning, and
for cases with a negative prompt the padded negative conditioning). The backend test
prompt_conditioning_test.cpp compares FTDR against them.

The text encoders and tokenizers are transformers' CLIPTextModel and CLIPTokenizer (slow), loaded
from the diffusers folders in ../shared/reference. What A1111 does around them is re-implemented
here from its source (AUTOMATIC1111/stable-diffusion-webui, v1.10), with its default options:
  modules/prompt_parser.py     parse_prompt_attention, re_attention, re_break   -> parse_attention
  modules/sd_hijack_clip.py    tokenize_line (+ next_chunk), empty_chunk         -> chunk_line
                               process_tokens (SD 2.x pad after the first eos),
                               encode_with_transformers (CLIP_stop_at_last_layers) -> encode_chunk
                               forward (chunks concatenated with torch.hstack)    -> encode_prompt
  modules/sd_emphasis.py       EmphasisOriginal.after_transformers (emphasis "Original", default)
  modules/shared_options.py    comma_padding_backtrack = 20
  modules/sd_samplers_cfg_denoiser.py  pad_cond (option pad_cond_uncond): the shorter of prompt and
                               negative prompt gets copies of the empty prompt's conditioning
For tiny-sd2v, whose tokenizer pads with "!" (id 0) like SD 2.x, A1111 would use open_clip's
tokenizer (same vocabulary); transformers' is used here, so its text normalisation applies.
"""
import json
import re
import sys
from pathlib import Path

import safetensors.torch
import torch
import transformers
from transformers import CLIPTextModel, CLIPTokenizer

COMMA_PADDING_BACKTRACK = 20
CHUNK_LENGTH = 75

# parse_prompt_attention's tokens, in its order: escaped ( ) [ ] \, a lone \, openers, ":weight)",
# closers, plain text, a lone ":".
TOKEN = re.compile(r"\\[()\[\]\\]|\\|\(|\[|:\s*([+-]?[.\d]+)\s*\)|\)|\]|[^\\()\[\]:]+|:")
BREAK = re.compile(r"\s*\bBREAK\b\s*", re.S)


def parse_attention(text):
    """[text, weight] runs, as A1111's parse_prompt_attention gives them."""
    runs = []
    open_round, open_square = [], []

    def scale(start, factor):
        for run in runs[start:]:
            run[1] *= factor

    for match in TOKEN.finditer(text):
        token, number = match.group(0), match.group(1)
        if token.startswith("\\"):
            runs.append([token[1:], 1.0])
        elif token == "(":
            open_round.append(len(runs))
        elif token == "[":
            open_square.append(len(runs))
        elif number is not None and open_round:
            scale(open_round.pop(), float(number))
        elif token == ")" and open_round:
            scale(open_round.pop(), 1.1)
        elif token == "]" and open_square:
            scale(open_square.pop(), 1 / 1.1)
        else:
            for i, part in enumerate(BREAK.split(token)):
                if i > 0:
                    runs.append(["BREAK", -1.0])
                runs.append([part, 1.0])
    for start in open_round:
        scale(start, 1.1)
    for start in open_square:
        scale(start, 1 / 1.1)
    if not runs:
        runs = [["", 1.0]]
    merged = [runs[0]]
    for run in runs[1:]:
        if run[1] == merged[-1][1]:
            merged[-1][0] += run[0]
        else:
            merged.append(run)
    return merged


def check_parser_against_a1111_doctests():
    """The examples in parse_prompt_attention's docstring."""
    assert parse_attention("normal text") == [["normal text", 1.0]]
    assert parse_attention("an (important) word") == [["an ", 1.0], ["important", 1.1], [" word", 1.0]]
    assert parse_attention("(unbalanced") == [["unbalanced", 1.1]]
    assert parse_attention("\\(literal\\]") == [["(literal]", 1.0]]
    assert parse_attention("(unnecessary)(parens)") == [["unnecessaryparens", 1.1]]
    assert parse_attention("a (((house:1.3)) [on] a (hill:0.5), sun, (((sky))).") == [
        ["a ", 1.0], ["house", 1.5730000000000004], [" ", 1.1], ["on", 1.0], [" a ", 1.1], ["hill", 0.55],
        [", sun, ", 1.1], ["sky", 1.4641000000000006], [".", 1.1]]


def chunk_line(tokenizer, runs):
    """tokenize_line: (ids, weights) per chunk of CHUNK_LENGTH + 2, no textual-inversion embeddings."""
    bos, eos = tokenizer.bos_token_id, tokenizer.eos_token_id
    comma = tokenizer.get_vocab().get(",</w>")
    token_lists = tokenizer([text for text, _ in runs], truncation=False, add_special_tokens=False)["input_ids"]
    chunks = []
    state = {"ids": [], "weights": [], "last_comma": -1}

    def close_chunk():
        missing = CHUNK_LENGTH - len(state["ids"])
        ids = [bos] + state["ids"] + [eos] * max(missing, 0) + [eos]
        weights = [1.0] + state["weights"] + [1.0] * max(missing, 0) + [1.0]
        chunks.append((ids, weights))
        state.update(ids=[], weights=[], last_comma=-1)

    for tokens, (text, weight) in zip(token_lists, runs):
        if text == "BREAK" and weight == -1:
            close_chunk()
            continue
        for token in tokens:
            size = len(state["ids"])
            if token == comma:
                state["last_comma"] = size
            elif (COMMA_PADDING_BACKTRACK != 0 and size == CHUNK_LENGTH and state["last_comma"] != -1
                  and size - state["last_comma"] <= COMMA_PADDING_BACKTRACK):
                cut = state["last_comma"] + 1
                moved_ids, moved_weights = state["ids"][cut:], state["weights"][cut:]
                state["ids"], state["weights"] = state["ids"][:cut], state["weights"][:cut]
                close_chunk()
                state["ids"], state["weights"] = moved_ids, moved_weights
            if len(state["ids"]) == CHUNK_LENGTH:
                close_chunk()
            state["ids"].append(token)
            state["weights"].append(weight)
    if state["ids"] or not chunks:
        close_chunk()
    return chunks


def encoder_ids(tokenizer, ids):
    """process_tokens: with a pad id other than eos (SD 2.x), everything after the first eos is pad."""
    ids = list(ids)
    if tokenizer.pad_token_id != tokenizer.eos_token_id:
        first = ids.index(tokenizer.eos_token_id)
        ids[first + 1:] = [tokenizer.pad_token_id] * (len(ids) - first - 1)
    return ids


def encode_chunk(text_encoder, ids, weights, clip_skip):
    out = text_encoder(input_ids=torch.tensor([ids]), output_hidden_states=True)
    if clip_skip > 1:
        z = text_encoder.text_model.final_layer_norm(out.hidden_states[-clip_skip])
    else:
        z = out.last_hidden_state
    multipliers = torch.asarray([weights])  # Python floats -> float32, as A1111 makes it
    original_mean = z.mean()
    z = z * multipliers.reshape(multipliers.shape + (1,)).expand(z.shape)
    new_mean = z.mean()
    return z * (original_mean / new_mean)


def encode_prompt(tokenizer, text_encoder, text, clip_skip):
    chunks = chunk_line(tokenizer, parse_attention(text))
    ids = [encoder_ids(tokenizer, c[0]) for c in chunks]
    zs = [encode_chunk(text_encoder, i, c[1], clip_skip) for i, c in zip(ids, chunks)]
    return torch.hstack(zs), ids, [c[1] for c in chunks]


def pad_cond(tensor, length, empty):
    repeats = (length - tensor.shape[1]) // empty.shape[1]
    if repeats == 0:
        return tensor
    return torch.cat([tensor, empty.repeat((tensor.shape[0], repeats, 1))], axis=1)


def long_tag_list():
    colours = ["red", "blue", "green", "yellow", "purple", "orange", "white", "black"]
    things = ["cat", "dog", "tree", "house", "river", "mountain", "flower", "bird", "boat", "cloud"]
    return ", ".join(f"{colours[i % 8]} {things[(i * 3) % 10]}" for i in range(45))


def long_words():
    words = ["quiet", "forest", "with", "tall", "trees", "and", "soft", "light", "over", "the", "hills"]
    return "a painting of " + " ".join(words[i % len(words)] for i in range(160))


CASES = [
    {"name": "plain", "prompt": "a photo of a cat"},
    {"name": "weighted", "prompt": "a (photo:1.3) of a [cat] in the (((sun)))"},
    {"name": "a1111_doc", "prompt": "a (((house:1.3)) [on] a (hill:0.5), sun, (((sky)))."},
    {"name": "long_commas", "prompt": "(masterpiece:1.2), " + long_tag_list()},
    {"name": "long_words", "prompt": long_words()},
    {"name": "comma_far_back", "prompt": "a, " + " ".join(["small house"] * 45)},
    {"name": "break", "prompt": "a red cat BREAK a (blue:1.2) dog BREAK BREAK [tree]"},
    {"name": "break_in_brackets", "prompt": "(a cat BREAK a dog)"},
    {"name": "escapes_unbalanced", "prompt": "\\(literal\\) \\[x\\] lone\\ backslash (unbalanced [open"},
    {"name": "zero_negative", "prompt": "(cat:0) and (dog:-1) with (bird: 1.5 )"},
    {"name": "clip_skip", "prompt": "a (photo:1.3) of a [cat]", "clip_skip": 2},
    {"name": "empty", "prompt": ""},
    {"name": "negative_padded", "prompt": long_words(), "negative_prompt": "blurry, (ugly:1.2)"},
    {"name": "prompt_padded", "prompt": "a [cat]", "negative_prompt": long_tag_list()},
]


def model_tensors(model_dir):
    tokenizer = CLIPTokenizer.from_pretrained(model_dir / "tokenizer")
    text_encoder = CLIPTextModel.from_pretrained(model_dir / "text_encoder").eval()
    tensors = {}
    with torch.no_grad():
        for case in CASES:
            skip = case.get("clip_skip", 0)
            cond, ids, weights = encode_prompt(tokenizer, text_encoder, case["prompt"], skip)
            name = case["name"]
            tensors[f"{name}.ids"] = torch.tensor(ids, dtype=torch.int64)
            tensors[f"{name}.multipliers"] = torch.asarray(weights)
            if "negative_prompt" in case:
                uncond, _, _ = encode_prompt(tokenizer, text_encoder, case["negative_prompt"], skip)
                empty, _, _ = encode_prompt(tokenizer, text_encoder, "", skip)
                length = max(cond.shape[1], uncond.shape[1])
                cond, uncond = pad_cond(cond, length, empty), pad_cond(uncond, length, empty)
                tensors[f"{name}.uncond"] = uncond.contiguous()
            tensors[f"{name}.cond"] = cond.contiguous()
    return tensors


def main(reference_dir, out_dir):
    torch.set_num_threads(1)
    check_parser_against_a1111_doctests()
    out_dir.mkdir(parents=True, exist_ok=True)
    models = ["tiny-sd1", "tiny-sd2v"]
    for model in models:
        safetensors.torch.save_file(model_tensors(reference_dir / model), str(out_dir / f"{model}.safetensors"),
                                    metadata={"format": "pt"})
    tokenizer = CLIPTokenizer.from_pretrained(reference_dir / models[0] / "tokenizer")  # both: one vocabulary
    index = {
        "generator": "scripts/reference/a1111_prompts.py",
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__},
        "comma_padding_backtrack": COMMA_PADDING_BACKTRACK,
        "models": models,
        "cases": [dict(case, runs=parse_attention(case["prompt"]),
                       chunks=len(chunk_line(tokenizer, parse_attention(case["prompt"])))) for case in CASES],
    }
    (out_dir / "cases.json").write_text(json.dumps(index, indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: a1111_prompts.py REFERENCE_DIR OUT_DIR")
    main(Path(sys.argv[1]), Path(sys.argv[2]))
