// io/checkpoint_keys.cpp: diffusers/transformers names -> LDM/A1111 names, one rule per block kind.
#include "io/checkpoint_keys.hpp"

#include <array>
#include <utility>
#include <vector>

#include "io/key_text.hpp"

namespace ftdr::torchbe {
namespace {

// "a.b.c" -> {"a", "b", "c"}
std::vector<std::string> split_dots(const std::string& key) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (size_t dot = key.find('.'); dot != std::string::npos; dot = key.find('.', start)) {
    parts.push_back(key.substr(start, dot - start));
    start = dot + 1;
  }
  parts.push_back(key.substr(start));
  return parts;
}

std::string join_from(const std::vector<std::string>& parts, size_t first) {
  std::string out;
  for (size_t i = first; i < parts.size(); ++i) out += (out.empty() ? "" : ".") + parts[i];
  return out;
}

bool to_index(const std::string& s, int64_t& out) {
  if (s.empty() || s.size() > 6) return false;
  out = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    out = out * 10 + (c - '0');
  }
  return true;
}

// Replaces the first matching leading name of `rest` (e.g. "norm1.weight" -> "in_layers.0.weight").
std::string rename_head(const std::string& rest,
                        const std::vector<std::pair<std::string, std::string>>& table) {
  for (const auto& [ours, theirs] : table)
    if (starts_with(rest, ours + ".")) return theirs + rest.substr(ours.size());
  return rest;
}

// ResnetBlock2D (UNet) -> LDM ResBlock.
const std::vector<std::pair<std::string, std::string>> kUNetResnet = {
    {"norm1", "in_layers.0"},  {"conv1", "in_layers.2"},  {"time_emb_proj", "emb_layers.1"},
    {"norm2", "out_layers.0"}, {"conv2", "out_layers.3"}, {"conv_shortcut", "skip_connection"}};

// ResnetBlock2D (VAE) -> LDM ResnetBlock: only the shortcut is named differently.
const std::vector<std::pair<std::string, std::string>> kVaeResnet = {{"conv_shortcut", "nin_shortcut"}};

// The VAE's mid-block attention -> LDM AttnBlock (1x1 convs there, Linear here).
const std::vector<std::pair<std::string, std::string>> kVaeAttention = {
    {"group_norm", "norm"}, {"to_q", "q"}, {"to_k", "k"}, {"to_v", "v"}, {"to_out.0", "proj_out"}};

// Top-level UNet modules.
const std::vector<std::pair<std::string, std::string>> kUNetTop = {
    {"time_embedding.linear_1", "time_embed.0"},
    {"time_embedding.linear_2", "time_embed.2"},
    {"add_embedding.linear_1", "label_emb.0.0"},  // SDXL's text_time embedding
    {"add_embedding.linear_2", "label_emb.0.2"},
    {"conv_in", "input_blocks.0.0"},
    {"conv_norm_out", "out.0"},
    {"conv_out", "out.2"}};

StoredKey plain(std::string key) { return StoredKey{std::move(key)}; }

bool up_block_has_attention(const UNetConfig& c, int64_t block) {
  return block < static_cast<int64_t>(c.up_block_types.size()) &&
         c.up_block_types[static_cast<size_t>(block)] == "CrossAttnUpBlock2D";
}

// down_blocks.B.{resnets,attentions}.L.* / downsamplers.0.conv.* -> input_blocks.N.{0,1}.*
StoredKey unet_down(const std::vector<std::string>& p, int64_t per_block) {
  int64_t block = 0, layer = 0;
  if (p.size() < 5 || !to_index(p[1], block) || !to_index(p[3], layer)) return {};
  const std::string rest = join_from(p, 4);
  const int64_t first = 1 + block * (per_block + 1);
  if (p[2] == "resnets")
    return plain("input_blocks." + std::to_string(first + layer) + ".0." + rename_head(rest, kUNetResnet));
  if (p[2] == "attentions") return plain("input_blocks." + std::to_string(first + layer) + ".1." + rest);
  if (p[2] == "downsamplers" && layer == 0 && starts_with(rest, "conv."))
    return plain("input_blocks." + std::to_string(first + per_block) + ".0.op." + rest.substr(5));
  return {};
}

// up_blocks.B.* -> output_blocks.N.{0: resnet, 1: attention, 1 or 2: upsampler}.*
StoredKey unet_up(const std::vector<std::string>& p, const UNetConfig& c, int64_t per_block) {
  int64_t block = 0, layer = 0;
  if (p.size() < 5 || !to_index(p[1], block) || !to_index(p[3], layer)) return {};
  const std::string rest = join_from(p, 4);
  const int64_t first = block * (per_block + 1);
  if (p[2] == "resnets")
    return plain("output_blocks." + std::to_string(first + layer) + ".0." + rename_head(rest, kUNetResnet));
  if (p[2] == "attentions") return plain("output_blocks." + std::to_string(first + layer) + ".1." + rest);
  if (p[2] == "upsamplers" && layer == 0) {
    const int sub = up_block_has_attention(c, block) ? 2 : 1;
    return plain("output_blocks." + std::to_string(first + per_block) + "." + std::to_string(sub) + "." +
                 rest);
  }
  return {};
}

// mid_block.{resnets.0, attentions.0, resnets.1} -> middle_block.{0, 1, 2}
StoredKey unet_mid(const std::vector<std::string>& p) {
  int64_t layer = 0;
  if (p.size() < 4 || !to_index(p[2], layer) || layer > 1) return {};
  const std::string rest = join_from(p, 3);
  if (p[1] == "resnets")
    return plain("middle_block." + std::to_string(layer * 2) + "." + rename_head(rest, kUNetResnet));
  if (p[1] == "attentions" && layer == 0) return plain("middle_block.1." + rest);
  return {};
}

// {encoder,decoder}.mid_block.* -> mid.{block_1, attn_1, block_2}.*
StoredKey vae_mid(const std::string& side, const std::vector<std::string>& p) {
  int64_t layer = 0;
  if (p.size() < 5 || !to_index(p[3], layer) || layer > 1) return {};
  const std::string rest = join_from(p, 4);
  if (p[2] == "resnets")
    return plain(side + ".mid.block_" + std::to_string(layer + 1) + "." + rename_head(rest, kVaeResnet));
  if (p[2] != "attentions" || layer != 0) return {};
  StoredKey k = plain(side + ".mid.attn_1." + rename_head(rest, kVaeAttention));
  k.squeeze_1x1 = !starts_with(rest, "group_norm.") && rest.size() > 7 &&
                  rest.compare(rest.size() - 7, 7, ".weight") == 0;
  return k;
}

// encoder.down_blocks.I.* -> encoder.down.I.*; decoder.up_blocks.I.* -> decoder.up.(n-1-I).*
StoredKey vae_level(const std::string& side, const std::vector<std::string>& p, int64_t levels) {
  int64_t level = 0, layer = 0;
  if (p.size() < 6 || !to_index(p[2], level) || !to_index(p[4], layer)) return {};
  const std::string rest = join_from(p, 5);
  const bool decoder = side == "decoder";
  const std::string base =
      side + (decoder ? ".up." + std::to_string(levels - 1 - level) : ".down." + std::to_string(level));
  if (p[3] == "resnets")
    return plain(base + ".block." + std::to_string(layer) + "." + rename_head(rest, kVaeResnet));
  const char* sampler = decoder ? "upsamplers" : "downsamplers";
  if (p[3] == sampler && layer == 0 && starts_with(rest, "conv."))
    return plain(base + (decoder ? ".upsample." : ".downsample.") + rest);
  return {};
}

}  // namespace

StoredKey unet_stored_key(const std::string& key, const UNetConfig& c) {
  for (const auto& [ours, theirs] : kUNetTop)
    if (starts_with(key, ours + ".")) return plain(theirs + key.substr(ours.size()));
  const auto p = split_dots(key);
  const int64_t per_block = c.layers_per_block.front();
  if (p[0] == "down_blocks") return unet_down(p, per_block);
  if (p[0] == "up_blocks") return unet_up(p, c, per_block);
  if (p[0] == "mid_block") return unet_mid(p);
  return {};
}

StoredKey vae_stored_key(const std::string& key, const VaeConfig& c) {
  const auto p = split_dots(key);
  if (p[0] == "quant_conv" || p[0] == "post_quant_conv") return plain(key);
  if (p.size() < 3 || (p[0] != "encoder" && p[0] != "decoder")) return {};
  if (p[1] == "conv_in" || p[1] == "conv_out") return plain(key);
  if (p[1] == "conv_norm_out") return plain(p[0] + ".norm_out." + join_from(p, 2));
  if (p[1] == "mid_block") return vae_mid(p[0], p);
  if (p[1] == "down_blocks" || p[1] == "up_blocks")
    return vae_level(p[0], p, static_cast<int64_t>(c.block_out_channels.size()));
  return {};
}

StoredKey clip_stored_key(const std::string& key) {
  if (key == "text_model.embeddings.position_ids") return {};
  return plain(key);
}

StoredKey open_clip_stored_key(const std::string& key) {
  static const std::vector<std::pair<std::string, std::string>> top = {
      {"text_model.embeddings.token_embedding.weight", "token_embedding.weight"},
      {"text_model.embeddings.position_embedding.weight", "positional_embedding"},
      {"text_model.final_layer_norm.weight", "ln_final.weight"},
      {"text_model.final_layer_norm.bias", "ln_final.bias"}};
  for (const auto& [ours, theirs] : top)
    if (key == ours) return plain(theirs);
  static const std::string layers = "text_model.encoder.layers.";
  if (!starts_with(key, layers)) return {};
  const auto p = split_dots(key.substr(layers.size()));  // I, module..., weight|bias
  int64_t layer = 0;
  if (p.size() < 3 || !to_index(p[0], layer)) return {};
  const std::string block = "transformer.resblocks." + p[0] + ".";
  const std::string rest = join_from(p, 1);
  static const std::array<const char*, 3> qkv = {"self_attn.q_proj.", "self_attn.k_proj.",
                                                 "self_attn.v_proj."};
  for (int64_t i = 0; i < 3; ++i) {
    if (!starts_with(rest, qkv[static_cast<size_t>(i)])) continue;
    StoredKey k = plain(block + "attn.in_proj_" + p.back());
    k.split_index = i;
    k.split_parts = 3;
    return k;
  }
  static const std::vector<std::pair<std::string, std::string>> names = {
      {"layer_norm1", "ln_1"},
      {"layer_norm2", "ln_2"},
      {"mlp.fc1", "mlp.c_fc"},
      {"mlp.fc2", "mlp.c_proj"},
      {"self_attn.out_proj", "attn.out_proj"}};
  const std::string renamed = rename_head(rest, names);
  return renamed == rest ? StoredKey{} : plain(block + renamed);
}

StoredKey open_clip_projection_stored_key(const std::string& key) {
  if (key != "text_projection.weight") return open_clip_stored_key(key);
  StoredKey k = plain("text_projection");
  k.transpose = true;
  return k;
}

bool ignored_checkpoint_key(const std::string& key, int64_t open_clip_layers) {
  // LDM's DDPM buffers (the noise schedule is the scheduler config's) and EMA bookkeeping.
  static const std::vector<std::string> exact = {
      "betas",
      "alphas_cumprod",
      "alphas_cumprod_prev",
      "sqrt_alphas_cumprod",
      "sqrt_one_minus_alphas_cumprod",
      "log_one_minus_alphas_cumprod",
      "sqrt_recip_alphas_cumprod",
      "sqrt_recipm1_alphas_cumprod",
      "posterior_variance",
      "posterior_log_variance_clipped",
      "posterior_mean_coef1",
      "posterior_mean_coef2",
      "logvar",
      "denoiser.sigmas",  // sgm's (SDXL's) copy of the noise schedule
      "model_ema.decay",
      "model_ema.num_updates",
      std::string(ckpt_prefix::open_clip) + "logit_scale",
      std::string(ckpt_prefix::open_clip) + "text_projection",
      std::string(ckpt_prefix::open_clip) + "attn_mask",
      std::string(ckpt_prefix::clip) + "text_model.embeddings.position_ids",
      std::string(ckpt_prefix::clip) + "embeddings.position_ids",
      std::string(ckpt_prefix::sdxl_open_clip) + "logit_scale",
      std::string(ckpt_prefix::sdxl_open_clip) + "attn_mask",
      std::string(ckpt_prefix::sdxl_clip) + "text_model.embeddings.position_ids",
      std::string(ckpt_prefix::sdxl_clip) + "embeddings.position_ids"};
  for (const auto& e : exact)
    if (key == e) return true;
  // EMA weights (the trained weights are the ones used, as A1111 and diffusers do); a VAE's training loss.
  if (starts_with(key, "model_ema.") || starts_with(key, std::string(ckpt_prefix::vae) + "loss.") ||
      starts_with(key, "loss."))
    return true;
  // SD 2.x's text encoder runs the penultimate OpenCLIP block: the last one is never used.
  if (open_clip_layers > 0)
    return starts_with(key, std::string(ckpt_prefix::open_clip) + "transformer.resblocks." +
                                std::to_string(open_clip_layers) + ".");
  return false;
}

}  // namespace ftdr::torchbe
