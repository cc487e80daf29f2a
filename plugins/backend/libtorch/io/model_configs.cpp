// io/model_configs.cpp: config.json -> config structs, refusing what the networks do not implement.
#include "io/model_configs.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <set>

#include "ftdr/sdk/error.hpp"

namespace ftdr::torchbe {
namespace {

using nlohmann::json;

constexpr int64_t kMaxChannels = 32768;  // SD 1.x/2.x: 1280; SDXL: 1280
constexpr int64_t kMaxBlocks = 8;        // SD: 4
constexpr int64_t kMaxLayers = 64;       // layers_per_block, transformer depth, CLIP layers (SD: 2, 1, 12..23)
constexpr int64_t kMaxImageChannels = 64;

// Reads typed fields of one config file; every error names the file and the key.
class Fields {
 public:
  Fields(const json& j, const std::string& file) : j_(j), file_(file) {
    if (!j.is_object()) throw sdk::Error(sdk::ErrorKind::model_error, file + ": expected a JSON object");
  }

  [[noreturn]] void fail(const std::string& key, const std::string& what) const {
    std::string got = j_.contains(key) ? j_.at(key).dump() : std::string("nothing");
    if (got.size() > 120) got = got.substr(0, 120) + "...";
    throw sdk::Error(sdk::ErrorKind::model_error,
                     file_ + ": key '" + key + "': " + what + " (got " + got + ")");
  }

  // A present, non-null value.
  const json* find(const std::string& key) const {
    auto it = j_.find(key);
    return it == j_.end() || it->is_null() ? nullptr : &*it;
  }

  void read(const std::string& key, int64_t& out) const {
    if (auto v = find(key)) {
      if (!v->is_number_integer()) fail(key, "expected an integer");
      out = v->get<int64_t>();
    }
  }
  void read(const std::string& key, double& out) const {
    if (auto v = find(key)) {
      if (!v->is_number()) fail(key, "expected a number");
      out = v->get<double>();
    }
  }
  void read(const std::string& key, bool& out) const {
    if (auto v = find(key)) {
      if (!v->is_boolean()) fail(key, "expected true or false");
      out = v->get<bool>();
    }
  }
  void read(const std::string& key, std::string& out) const {
    if (auto v = find(key)) {
      if (!v->is_string()) fail(key, "expected a string");
      out = v->get<std::string>();
    }
  }
  void read(const std::string& key, std::vector<std::string>& out) const {
    if (auto v = find(key)) {
      if (!v->is_array() || v->empty()) fail(key, "expected a non-empty list of strings");
      out.clear();
      for (const auto& e : *v) {
        if (!e.is_string()) fail(key, "expected a list of strings");
        out.push_back(e.get<std::string>());
      }
    }
  }
  // An int list; a bare int is repeated `count` times (diffusers' "int or tuple" fields).
  void read_int_or_list(const std::string& key, std::vector<int64_t>& out, size_t count) const {
    const json* v = find(key);
    if (!v) {
      if (out.size() == 1 && count > 0) out.assign(count, out.front());  // count 0: keep the default list
      return;
    }
    if (v->is_number_integer()) {
      if (count == 0) fail(key, "expected a list of integers");
      out.assign(count, v->get<int64_t>());
      return;
    }
    if (!v->is_array() || v->empty()) fail(key, "expected an integer or a non-empty list of integers");
    out.clear();
    for (const auto& e : *v) {
      if (!e.is_number_integer()) fail(key, "expected a list of integers");
      out.push_back(e.get<int64_t>());
    }
    if (count && out.size() != count)
      fail(key, "expected " + std::to_string(count) + " entries (one per block)");
  }

  void require_positive(const std::string& key, int64_t v) const {
    if (v <= 0) fail(key, "expected a positive integer");
  }
  // Bounds far beyond any Stable Diffusion model, so that sizes computed from them cannot overflow;
  // what is inside the bounds but does not fit is refused by the size check (io/model_size.hpp).
  void require_range(const std::string& key, int64_t v, int64_t lo, int64_t hi) const {
    if (v < lo || v > hi) fail(key, "expected an integer in " + std::to_string(lo) + ".." + std::to_string(hi));
  }
  void require_positive_finite(const std::string& key, double v) const {
    if (!std::isfinite(v) || v <= 0) fail(key, "expected a finite number > 0");
  }
  void require_finite(const std::string& key, double v) const {
    if (!std::isfinite(v)) fail(key, "expected a finite number");
  }
  // Keys whose only supported value is "absent or null".
  void require_null(const std::string& key, const std::string& why) const {
    if (find(key)) fail(key, "not supported: " + why);
  }
  template <typename T>
  void require_default(const std::string& key, const T& expected, const std::string& why) const {
    if (auto v = find(key)) {
      bool same = false;
      try {
        same = v->get<T>() == expected;
      } catch (const json::exception&) {
      }
      if (!same) fail(key, "only " + json(expected).dump() + " is supported: " + why);
    }
  }
  void require_one_of(const std::string& key, const std::string& value, const std::set<std::string>& allowed) const {
    if (allowed.count(value)) return;
    std::string list;
    for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
    fail(key, "unsupported value '" + value + "', expected one of: " + list);
  }

 private:
  const json& j_;
  std::string file_;
};

void read_unet_structure(const Fields& f, UNetConfig& c) {
  f.read("down_block_types", c.down_block_types);
  f.read("up_block_types", c.up_block_types);
  f.read("mid_block_type", c.mid_block_type);
  if (auto v = f.find("block_out_channels")) {
    if (!v->is_array() || v->empty()) f.fail("block_out_channels", "expected a non-empty list of integers");
  }
  f.read_int_or_list("block_out_channels", c.block_out_channels, 0);
  const size_t n = c.block_out_channels.size();
  if (static_cast<int64_t>(n) > kMaxBlocks) f.fail("block_out_channels", "expected at most " + std::to_string(kMaxBlocks) + " blocks");
  for (auto ch : c.block_out_channels) f.require_range("block_out_channels", ch, 1, kMaxChannels);
  for (const auto& t : c.down_block_types)
    f.require_one_of("down_block_types", t, {"DownBlock2D", "CrossAttnDownBlock2D"});
  for (const auto& t : c.up_block_types)
    f.require_one_of("up_block_types", t, {"UpBlock2D", "CrossAttnUpBlock2D"});
  f.require_one_of("mid_block_type", c.mid_block_type, {"UNetMidBlock2DCrossAttn"});
  if (c.down_block_types.size() != n) f.fail("down_block_types", "expected one entry per block_out_channels entry");
  if (c.up_block_types.size() != n) f.fail("up_block_types", "expected one entry per block_out_channels entry");

  c.layers_per_block = {c.layers_per_block.front()};
  f.read_int_or_list("layers_per_block", c.layers_per_block, n);
  for (auto l : c.layers_per_block) f.require_range("layers_per_block", l, 1, kMaxLayers);
  // diffusers: num_attention_heads = num_attention_heads or attention_head_dim.
  c.attention_heads = {c.attention_heads.front()};
  const char* heads_key = f.find("num_attention_heads") ? "num_attention_heads" : "attention_head_dim";
  f.read_int_or_list(heads_key, c.attention_heads, n);
  for (size_t i = 0; i < n; ++i) {
    f.require_positive(heads_key, c.attention_heads[i]);
    if (c.block_out_channels[i] % c.attention_heads[i] != 0)
      f.fail(heads_key, "block_out_channels[" + std::to_string(i) + "] = " + std::to_string(c.block_out_channels[i]) +
                            " is not divisible by the number of heads " + std::to_string(c.attention_heads[i]));
  }
  for (auto ch : c.block_out_channels)
    if (ch % c.norm_num_groups != 0) f.fail("norm_num_groups", "must divide every block_out_channels entry");
}

void reject_unsupported_unet_features(const Fields& f) {
  f.require_null("class_embed_type", "class embeddings are not implemented");
  f.require_null("num_class_embeds", "class embeddings are not implemented");
  f.require_null("addition_embed_type", "additional (SDXL-style) embeddings are not implemented");
  f.require_null("addition_time_embed_dim", "additional time embeddings are not implemented");
  f.require_null("encoder_hid_dim", "encoder_hid_proj is not implemented");
  f.require_null("encoder_hid_dim_type", "encoder_hid_proj is not implemented");
  f.require_null("time_embedding_dim", "a custom time embedding size is not implemented");
  f.require_null("time_embedding_act_fn", "a time embedding activation is not implemented");
  f.require_null("timestep_post_act", "timestep_post_act is not implemented");
  f.require_null("time_cond_proj_dim", "time_cond_proj_dim is not implemented");
  f.require_null("projection_class_embeddings_input_dim", "class embeddings are not implemented");
  f.require_null("cross_attention_norm", "cross_attention_norm is not implemented");
  f.require_null("reverse_transformer_layers_per_block", "per-block transformer depth is not implemented");
  f.require_null("mid_block_only_cross_attention", "only_cross_attention is not implemented");
  f.require_default<std::string>("time_embedding_type", "positional", "Fourier embeddings are not implemented");
  f.require_default<std::string>("resnet_time_scale_shift", "default", "scale-shift norm is not implemented");
  f.require_default<std::string>("attention_type", "default", "gated attention is not implemented");
  f.require_default<bool>("resnet_skip_time_act", false, "not implemented");
  f.require_default<bool>("dual_cross_attention", false, "not implemented");
  f.require_default<bool>("class_embeddings_concat", false, "not implemented");
  f.require_default<double>("resnet_out_scale_factor", 1.0, "not implemented");
  f.require_default<std::string>("act_fn", "silu", "the SD UNets use SiLU");
}

}  // namespace

CLIPTextConfig CLIPTextConfig::from_json(const json& j, const std::string& file) {
  Fields f(j, file);
  CLIPTextConfig c;
  f.read("vocab_size", c.vocab_size);
  f.read("hidden_size", c.hidden_size);
  f.read("intermediate_size", c.intermediate_size);
  f.read("num_hidden_layers", c.num_hidden_layers);
  f.read("num_attention_heads", c.num_attention_heads);
  f.read("max_position_embeddings", c.max_position_embeddings);
  f.read("hidden_act", c.hidden_act);
  f.read("layer_norm_eps", c.layer_norm_eps);
  f.read("pad_token_id", c.pad_token_id);
  f.read("bos_token_id", c.bos_token_id);
  f.read("eos_token_id", c.eos_token_id);
  f.require_one_of("hidden_act", c.hidden_act, {"quick_gelu", "gelu"});
  f.require_range("vocab_size", c.vocab_size, 1, 10'000'000);
  f.require_range("hidden_size", c.hidden_size, 1, kMaxChannels);
  f.require_range("intermediate_size", c.intermediate_size, 1, 4 * kMaxChannels);
  f.require_range("num_hidden_layers", c.num_hidden_layers, 1, kMaxLayers);
  f.require_range("num_attention_heads", c.num_attention_heads, 1, c.hidden_size);
  f.require_range("max_position_embeddings", c.max_position_embeddings, 2, 65536);
  f.require_positive_finite("layer_norm_eps", c.layer_norm_eps);
  for (const char* key : {"bos_token_id", "eos_token_id", "pad_token_id"}) {
    int64_t id = 0;
    f.read(key, id);
    if (f.find(key)) f.require_range(key, id, 0, c.vocab_size - 1);
  }
  if (c.hidden_size % c.num_attention_heads != 0)
    f.fail("num_attention_heads", "must divide hidden_size " + std::to_string(c.hidden_size));
  if (auto mt = f.find("model_type"); mt && mt->is_string() && mt->get<std::string>() != "clip_text_model")
    f.fail("model_type", "expected 'clip_text_model'");
  return c;
}

UNetConfig UNetConfig::from_json(const json& j, const std::string& file) {
  Fields f(j, file);
  UNetConfig c;
  f.read("sample_size", c.sample_size);
  f.read("in_channels", c.in_channels);
  f.read("out_channels", c.out_channels);
  f.read("center_input_sample", c.center_input_sample);
  f.read("flip_sin_to_cos", c.flip_sin_to_cos);
  f.read("freq_shift", c.freq_shift);
  f.read("downsample_padding", c.downsample_padding);
  f.read("mid_block_scale_factor", c.mid_block_scale_factor);
  f.read("act_fn", c.act_fn);
  f.read("norm_num_groups", c.norm_num_groups);
  f.read("norm_eps", c.norm_eps);
  f.read("use_linear_projection", c.use_linear_projection);
  f.read("upcast_attention", c.upcast_attention);
  f.read("conv_in_kernel", c.conv_in_kernel);
  f.read("conv_out_kernel", c.conv_out_kernel);
  if (f.find("norm_num_groups") == nullptr && j.contains("norm_num_groups"))
    f.fail("norm_num_groups", "null (no output norm) is not supported");
  f.require_positive("norm_num_groups", c.norm_num_groups);
  f.require_range("sample_size", c.sample_size, 1, 16384);
  f.require_range("in_channels", c.in_channels, 1, kMaxImageChannels);
  f.require_range("out_channels", c.out_channels, 1, kMaxImageChannels);
  f.require_range("conv_in_kernel", c.conv_in_kernel, 1, 15);
  f.require_range("conv_out_kernel", c.conv_out_kernel, 1, 15);
  if (c.conv_in_kernel % 2 == 0) f.fail("conv_in_kernel", "expected an odd kernel size");
  if (c.conv_out_kernel % 2 == 0) f.fail("conv_out_kernel", "expected an odd kernel size");
  f.require_range("downsample_padding", c.downsample_padding, 0, 1);
  f.require_finite("freq_shift", c.freq_shift);
  f.require_positive_finite("mid_block_scale_factor", c.mid_block_scale_factor);
  f.require_positive_finite("norm_eps", c.norm_eps);
  read_unet_structure(f, c);

  std::vector<int64_t> tl{c.transformer_layers_per_block};
  f.read_int_or_list("transformer_layers_per_block", tl, c.block_out_channels.size());
  if (std::adjacent_find(tl.begin(), tl.end(), std::not_equal_to<>()) != tl.end())
    f.fail("transformer_layers_per_block", "different depths per block are not implemented");
  c.transformer_layers_per_block = tl.front();
  f.require_range("transformer_layers_per_block", c.transformer_layers_per_block, 1, kMaxLayers);
  if (auto v = f.find("cross_attention_dim"); v && !v->is_number_integer())
    f.fail("cross_attention_dim", "expected one integer (per-block dimensions are not implemented)");
  f.read("cross_attention_dim", c.cross_attention_dim);
  f.require_range("cross_attention_dim", c.cross_attention_dim, 1, kMaxChannels);
  if (auto v = f.find("only_cross_attention")) {
    bool any = v->is_boolean() ? v->get<bool>() : true;
    if (v->is_array()) {
      any = false;
      for (const auto& e : *v) any = any || !e.is_boolean() || e.get<bool>();
    }
    if (any) f.fail("only_cross_attention", "not supported: SD 1.x/2.x use false");
  }
  reject_unsupported_unet_features(f);
  return c;
}

VaeConfig VaeConfig::from_json(const json& j, const std::string& file) {
  Fields f(j, file);
  VaeConfig c;
  f.read("in_channels", c.in_channels);
  f.read("out_channels", c.out_channels);
  f.read("down_block_types", c.down_block_types);
  f.read("up_block_types", c.up_block_types);
  f.read_int_or_list("block_out_channels", c.block_out_channels, 0);
  f.read("layers_per_block", c.layers_per_block);
  f.read("act_fn", c.act_fn);
  f.read("latent_channels", c.latent_channels);
  f.read("norm_num_groups", c.norm_num_groups);
  f.read("sample_size", c.sample_size);
  f.read("scaling_factor", c.scaling_factor);
  f.read("force_upcast", c.force_upcast);
  f.read("use_quant_conv", c.use_quant_conv);
  f.read("use_post_quant_conv", c.use_post_quant_conv);
  f.read("mid_block_add_attention", c.mid_block_add_attention);

  const size_t n = c.block_out_channels.size();
  if (n == 0 || static_cast<int64_t>(n) > kMaxBlocks)
    f.fail("block_out_channels", "expected 1.." + std::to_string(kMaxBlocks) + " blocks");
  for (const auto& t : c.down_block_types) f.require_one_of("down_block_types", t, {"DownEncoderBlock2D"});
  for (const auto& t : c.up_block_types) f.require_one_of("up_block_types", t, {"UpDecoderBlock2D"});
  if (c.down_block_types.size() != n) f.fail("down_block_types", "expected one entry per block_out_channels entry");
  if (c.up_block_types.size() != n) f.fail("up_block_types", "expected one entry per block_out_channels entry");
  f.require_positive("norm_num_groups", c.norm_num_groups);
  for (auto ch : c.block_out_channels) {
    f.require_range("block_out_channels", ch, 1, kMaxChannels);
    if (ch % c.norm_num_groups != 0) f.fail("norm_num_groups", "must divide every block_out_channels entry");
  }
  f.require_range("in_channels", c.in_channels, 1, kMaxImageChannels);
  f.require_range("out_channels", c.out_channels, 1, kMaxImageChannels);
  f.require_range("layers_per_block", c.layers_per_block, 1, kMaxLayers);
  f.require_range("latent_channels", c.latent_channels, 1, kMaxImageChannels);
  f.require_range("sample_size", c.sample_size, 1, 131072);
  f.require_positive_finite("scaling_factor", c.scaling_factor);
  f.require_default<std::string>("act_fn", "silu", "the SD VAEs use SiLU");
  f.require_null("shift_factor", "latent shifting (SD3/Flux VAEs) is not implemented");
  f.require_null("latents_mean", "per-channel latent statistics are not implemented");
  f.require_null("latents_std", "per-channel latent statistics are not implemented");
  return c;
}

}  // namespace ftdr::torchbe
