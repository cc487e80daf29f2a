// vae/vae_config.cpp: config.json -> VaeConfig, refusing what the network does not implement.
#include "vae/vae_config.hpp"

#include "io/config_fields.hpp"

namespace ftdr::torchbe {

using nlohmann::json;

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
  if (c.down_block_types.size() != n)
    f.fail("down_block_types", "expected one entry per block_out_channels entry");
  if (c.up_block_types.size() != n)
    f.fail("up_block_types", "expected one entry per block_out_channels entry");
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
