// unet/unet_2d_condition_model.cpp  (Ref: diffusers models/unets/unet_2d_condition.py)
#include "unet/unet_2d_condition_model.hpp"
#include "nn/stop_point.hpp"

#include "ftdr/sdk/error.hpp"
#include "nn/conv_2d.hpp"
#include "nn/cpu_conv.hpp"
#include "nn/group_norm.hpp"
#include "nn/per_sample_activation.hpp"
#include "unet/cross_attn_down_block_2d.hpp"
#include "unet/cross_attn_up_block_2d.hpp"
#include "unet/down_block_2d.hpp"
#include "unet/up_block_2d.hpp"

namespace ftdr::torchbe {

namespace {

// What every block of this UNet shares (diffusers' get_down_block / get_up_block arguments).
UNetBlockOptions common_options(const UNetConfig& c) {
  UNetBlockOptions o;
  o.temb_channels = c.time_embed_dim();
  o.eps = c.norm_eps;
  o.groups = c.norm_num_groups;
  o.downsample_padding = c.downsample_padding;
  o.cross_attention_dim = c.cross_attention_dim;
  o.use_linear_projection = c.use_linear_projection;
  o.upcast_attention = c.upcast_attention;
  return o;
}

[[noreturn]] void unsupported_block(const std::string& key, const std::string& type) {
  throw sdk::Error(sdk::ErrorKind::model_error,
                   "unet config: key '" + key + "': unsupported block type '" + type + "'");
}

}  // namespace

UNet2DConditionModelImpl::UNet2DConditionModelImpl(const UNetConfig& cfg)
    : cfg_(cfg), settings_(std::make_shared<AttentionSettings>()) {
  const int64_t ch0 = cfg.block_out_channels.front();
  time_proj = register_module("time_proj", Timesteps(ch0, cfg.flip_sin_to_cos, cfg.freq_shift));
  time_embedding = register_module("time_embedding", TimestepEmbedding(ch0, cfg.time_embed_dim()));
  if (cfg.has_text_time()) {
    add_time_proj = register_module(
        "add_time_proj", Timesteps(cfg.addition_time_embed_dim, cfg.flip_sin_to_cos, cfg.freq_shift));
    add_embedding = register_module(
        "add_embedding", TimestepEmbedding(cfg.projection_class_embeddings_input_dim, cfg.time_embed_dim()));
  }
  conv_in =
      register_module("conv_in", Conv2d(torch::nn::Conv2dOptions(cfg.in_channels, ch0, cfg.conv_in_kernel)
                                            .padding((cfg.conv_in_kernel - 1) / 2)));
  build_down_blocks();

  UNetBlockOptions mid = common_options(cfg);
  mid.in_channels = cfg.block_out_channels.back();
  mid.num_layers = 1;
  mid.transformer_layers = cfg.transformer_layers_per_block.back();
  mid.heads = cfg.attention_heads.back();
  mid.output_scale_factor = cfg.mid_block_scale_factor;
  mid_block = register_module("mid_block", UNetMidBlock2DCrossAttn(mid, settings_));

  build_up_blocks();
  conv_norm_out = register_module(
      "conv_norm_out", GroupNorm(torch::nn::GroupNormOptions(cfg.norm_num_groups, ch0).eps(cfg.norm_eps)));
  conv_out =
      register_module("conv_out", Conv2d(torch::nn::Conv2dOptions(ch0, cfg.out_channels, cfg.conv_out_kernel)
                                             .padding(cfg.conv_out_kernel / 2)));
}

void UNet2DConditionModelImpl::build_down_blocks() {
  down_blocks = register_module("down_blocks", torch::nn::ModuleList());
  const size_t n = cfg_.block_out_channels.size();
  int64_t output_channel = cfg_.block_out_channels.front();
  for (size_t i = 0; i < n; ++i) {
    UNetBlockOptions o = common_options(cfg_);
    o.in_channels = output_channel;
    output_channel = cfg_.block_out_channels[i];
    o.out_channels = output_channel;
    o.num_layers = cfg_.layers_per_block[i];
    o.add_sample = i + 1 < n;
    o.heads = cfg_.attention_heads[i];
    o.transformer_layers = cfg_.transformer_layers_per_block[i];
    const std::string& type = cfg_.down_block_types[i];
    std::shared_ptr<DownBlockBase> block;
    if (type == "DownBlock2D")
      block = std::make_shared<DownBlock2DImpl>(o, settings_);
    else if (type == "CrossAttnDownBlock2D")
      block = std::make_shared<CrossAttnDownBlock2DImpl>(o, settings_);
    else
      unsupported_block("down_block_types", type);
    down_blocks->push_back(block);
    down_.push_back(block);
  }
}

void UNet2DConditionModelImpl::build_up_blocks() {
  up_blocks = register_module("up_blocks", torch::nn::ModuleList());
  const size_t n = cfg_.block_out_channels.size();
  std::vector<int64_t> channels(cfg_.block_out_channels.rbegin(), cfg_.block_out_channels.rend());
  std::vector<int64_t> heads(cfg_.attention_heads.rbegin(), cfg_.attention_heads.rend());
  std::vector<int64_t> layers(cfg_.layers_per_block.rbegin(), cfg_.layers_per_block.rend());
  std::vector<int64_t> depth(cfg_.transformer_layers_per_block.rbegin(),
                             cfg_.transformer_layers_per_block.rend());
  int64_t output_channel = channels.front();
  for (size_t i = 0; i < n; ++i) {
    UNetBlockOptions o = common_options(cfg_);
    o.prev_output_channel = output_channel;
    output_channel = channels[i];
    o.out_channels = output_channel;
    o.in_channels = channels[std::min(i + 1, n - 1)];
    o.num_layers = layers[i] + 1;
    o.add_sample = i + 1 < n;
    o.heads = heads[i];
    o.transformer_layers = depth[i];
    const std::string& type = cfg_.up_block_types[i];
    std::shared_ptr<UpBlockBase> block;
    if (type == "UpBlock2D")
      block = std::make_shared<UpBlock2DImpl>(o, settings_);
    else if (type == "CrossAttnUpBlock2D")
      block = std::make_shared<CrossAttnUpBlock2DImpl>(o, settings_);
    else
      unsupported_block("up_block_types", type);
    up_blocks->push_back(block);
    up_.push_back(block);
    up_layers_.push_back(o.num_layers);
  }
}

// Ref: diffusers UNet2DConditionModel.get_aug_embed, addition_embed_type "text_time".
at::Tensor UNet2DConditionModelImpl::text_time_embedding(const UNetAddedConditions& added, int64_t batch,
                                                         at::ScalarType dtype) {
  const at::Tensor& text = added.text_embeds;
  const at::Tensor& ids = added.time_ids;
  const int64_t pooled = cfg_.pooled_text_dim();
  if (!text.defined() || !ids.defined())
    throw sdk::Error(sdk::ErrorKind::internal,
                     "unet: addition_embed_type text_time needs text_embeds and time_ids (an SDXL model)");
  if (text.dim() != 2 || text.size(0) != batch || text.size(1) != pooled || ids.dim() != 2 ||
      ids.size(0) != batch || ids.size(1) != UNetConfig::kTimeIds)
    throw sdk::Error(sdk::ErrorKind::internal, "unet: text_embeds must be [" + std::to_string(batch) + ", " +
                                                   std::to_string(pooled) + "] and time_ids [" +
                                                   std::to_string(batch) + ", 6]");
  at::Tensor time_embeds = add_time_proj(ids.to(text.device()).flatten()).reshape({batch, -1});
  at::Tensor add_embeds = at::cat({text.to(at::kFloat), time_embeds}, -1).to(dtype);
  return add_embedding(add_embeds);
}

at::Tensor UNet2DConditionModelImpl::forward(const at::Tensor& sample, const at::Tensor& timestep,
                                             const at::Tensor& encoder_hidden_states,
                                             const UNetAddedConditions& added) {
  const int64_t batch = sample.size(0);
  at::Tensor t = timestep.to(sample.device()).reshape({-1});
  if (t.size(0) == 1) t = t.expand({batch});
  if (t.size(0) != batch)
    throw sdk::Error(sdk::ErrorKind::internal, "unet: " + std::to_string(t.size(0)) +
                                                   " timesteps for a batch of " + std::to_string(batch));
  at::Tensor emb = time_embedding(time_proj(t).to(sample.scalar_type()));
  if (cfg_.has_text_time()) emb = emb + text_time_embedding(added, batch, emb.scalar_type());

  at::Tensor h = cfg_.center_input_sample ? sample * 2.0 - 1.0 : sample;
  h = cpu_conv2d(conv_in, h);
  std::vector<at::Tensor> skips{h};
  for (auto& block : down_) {
    stop_point();  // and inside every block, before each resnet and attention
    auto [out, states] = block->forward(h, emb, encoder_hidden_states);
    h = out;
    skips.insert(skips.end(), states.begin(), states.end());
  }
  h = mid_block(h, emb, encoder_hidden_states);
  for (size_t i = 0; i < up_.size(); ++i) {
    // The upsampler targets the size of the skip the next block starts with (odd sizes line up).
    std::vector<int64_t> upsample_size;
    const size_t remaining = skips.size() - static_cast<size_t>(up_layers_[i]);
    if (i + 1 < up_.size() && remaining > 0) upsample_size = skips[remaining - 1].sizes().slice(2).vec();
    stop_point();
    h = up_[i]->forward(h, skips, emb, encoder_hidden_states, upsample_size);
  }
  stop_point();
  return cpu_conv2d(conv_out, silu_per_sample_(conv_norm_out(h)));
}

}  // namespace ftdr::torchbe
