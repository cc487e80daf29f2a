// unet/unet_config.cpp: config.json -> UNetConfig, refusing what the network does not implement.
#include "unet/unet_config.hpp"

#include "io/config_fields.hpp"

namespace ftdr::torchbe {

using nlohmann::json;

namespace {

void read_unet_structure(const Fields& f, UNetConfig& c) {
  f.read("down_block_types", c.down_block_types);
  f.read("up_block_types", c.up_block_types);
  f.read("mid_block_type", c.mid_block_type);
  if (auto v = f.find("block_out_channels")) {
    if (!v->is_array() || v->empty()) f.fail("block_out_channels", "expected a non-empty list of integers");
  }
  f.read_int_or_list("block_out_channels", c.block_out_channels, 0);
  const size_t n = c.block_out_channels.size();
  if (static_cast<int64_t>(n) > kMaxBlocks)
    f.fail("block_out_channels", "expected at most " + std::to_string(kMaxBlocks) + " blocks");
  for (auto ch : c.block_out_channels) f.require_range("block_out_channels", ch, 1, kMaxChannels);
  for (const auto& t : c.down_block_types)
    f.require_one_of("down_block_types", t, {"DownBlock2D", "CrossAttnDownBlock2D"});
  for (const auto& t : c.up_block_types)
    f.require_one_of("up_block_types", t, {"UpBlock2D", "CrossAttnUpBlock2D"});
  f.require_one_of("mid_block_type", c.mid_block_type, {"UNetMidBlock2DCrossAttn"});
  if (c.down_block_types.size() != n)
    f.fail("down_block_types", "expected one entry per block_out_channels entry");
  if (c.up_block_types.size() != n)
    f.fail("up_block_types", "expected one entry per block_out_channels entry");

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
      f.fail(heads_key,
             "block_out_channels[" + std::to_string(i) + "] = " + std::to_string(c.block_out_channels[i]) +
                 " is not divisible by the number of heads " + std::to_string(c.attention_heads[i]));
  }
  for (auto ch : c.block_out_channels)
    if (ch % c.norm_num_groups != 0) f.fail("norm_num_groups", "must divide every block_out_channels entry");
}

void reject_unsupported_unet_features(const Fields& f) {
  f.require_null("class_embed_type", "class embeddings are not implemented");
  f.require_null("num_class_embeds", "class embeddings are not implemented");
  f.require_null("encoder_hid_dim", "encoder_hid_proj is not implemented");
  f.require_null("encoder_hid_dim_type", "encoder_hid_proj is not implemented");
  f.require_null("time_embedding_dim", "a custom time embedding size is not implemented");
  f.require_null("time_embedding_act_fn", "a time embedding activation is not implemented");
  f.require_null("timestep_post_act", "timestep_post_act is not implemented");
  f.require_null("time_cond_proj_dim", "time_cond_proj_dim is not implemented");
  f.require_null("cross_attention_norm", "cross_attention_norm is not implemented");
  f.require_null("reverse_transformer_layers_per_block",
                 "a per-layer transformer depth for the up blocks (SDXL refiner style) is not implemented");
  f.require_null("mid_block_only_cross_attention", "only_cross_attention is not implemented");
  f.require_default<std::string>("time_embedding_type", "positional",
                                 "Fourier embeddings are not implemented");
  f.require_default<std::string>("resnet_time_scale_shift", "default", "scale-shift norm is not implemented");
  f.require_default<std::string>("attention_type", "default", "gated attention is not implemented");
  f.require_default<bool>("resnet_skip_time_act", false, "not implemented");
  f.require_default<bool>("dual_cross_attention", false, "not implemented");
  f.require_default<bool>("class_embeddings_concat", false, "not implemented");
  f.require_default<double>("resnet_out_scale_factor", 1.0, "not implemented");
  f.require_default<std::string>("act_fn", "silu", "the SD UNets use SiLU");
}

// SDXL's text_time embedding; any other added or class embedding is refused.
void read_added_embedding(const Fields& f, UNetConfig& c) {
  f.read("addition_embed_type", c.addition_embed_type);
  if (f.find("addition_embed_type"))
    f.require_one_of("addition_embed_type", c.addition_embed_type, {"text_time"});
  if (!c.has_text_time()) {
    f.require_null("projection_class_embeddings_input_dim", "class embeddings are not implemented");
    return;
  }
  if (!f.find("addition_time_embed_dim"))
    f.fail("addition_time_embed_dim", "required with addition_embed_type text_time");
  if (!f.find("projection_class_embeddings_input_dim"))
    f.fail("projection_class_embeddings_input_dim", "required with addition_embed_type text_time");
  f.read("addition_time_embed_dim", c.addition_time_embed_dim);
  f.read("projection_class_embeddings_input_dim", c.projection_class_embeddings_input_dim);
  f.require_range("addition_time_embed_dim", c.addition_time_embed_dim, 1, kMaxChannels);
  f.require_range("projection_class_embeddings_input_dim", c.projection_class_embeddings_input_dim,
                  UNetConfig::kTimeIds * c.addition_time_embed_dim + 1, kMaxChannels);
}

}  // namespace

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

  c.transformer_layers_per_block = {1};
  if (auto v = f.find("transformer_layers_per_block"); v && v->is_array())
    for (const auto& e : *v)
      if (!e.is_number_integer())
        f.fail("transformer_layers_per_block",
               "expected an integer per block (per-layer lists are not implemented)");
  f.read_int_or_list("transformer_layers_per_block", c.transformer_layers_per_block,
                     c.block_out_channels.size());
  for (auto l : c.transformer_layers_per_block)
    f.require_range("transformer_layers_per_block", l, 1, kMaxLayers);
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
  read_added_embedding(f, c);
  return c;
}

}  // namespace ftdr::torchbe
