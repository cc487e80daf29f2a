// io/model_size.cpp: see model_size.h. Each count mirrors the constructor of the network it names.
#include "io/model_size.hpp"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "ftdr/sdk/error.hpp"
#include "io/safetensors.hpp"
#include "io/single_file.hpp"

namespace ftdr::torchbe {
namespace {

using u64 = std::uint64_t;

u64 linear(u64 in, u64 out, bool bias = true) { return in * out + (bias ? out : 0); }
u64 conv(u64 in, u64 out, u64 kernel) { return in * out * kernel * kernel + out; }
u64 norm(u64 channels) { return 2 * channels; }  // GroupNorm / LayerNorm: weight and bias

// nn/resnet_block_2d.cpp (temb 0: no time_emb_proj).
u64 resnet(u64 in, u64 out, u64 temb) {
  return norm(in) + conv(in, out, 3) + (temb ? linear(temb, out) : 0) + norm(out) + conv(out, out, 3) +
         (in != out ? conv(in, out, 1) : 0);
}

// nn/attention_processor.cpp with inner = heads * dim_head = query_dim.
u64 attention(u64 query, u64 kv, bool qkv_bias, bool group_norm) {
  return (group_norm ? norm(query) : 0) + linear(query, query, qkv_bias) + 2 * linear(kv, query, qkv_bias) +
         linear(query, query);
}

// unet/transformer_2d_model.cpp: proj_in/out are 1x1 convs or linears, the same count either way.
u64 transformer_2d(u64 ch, u64 layers, u64 context) {
  const u64 block = 3 * norm(ch) + attention(ch, ch, false, false) + attention(ch, context, false, false) +
                    linear(ch, ch * 4 * 2) + linear(ch * 4, ch);  // GEGLU feed-forward, mult 4
  return norm(ch) + 2 * linear(ch, ch) + layers * block;
}

bool cross_attn(const std::string& block_type) { return block_type.rfind("CrossAttn", 0) == 0; }

u64 unet_down(const UNetConfig& c, u64 temb) {
  const size_t n = c.block_out_channels.size();
  u64 total = 0, out = c.block_out_channels.front();
  for (size_t i = 0; i < n; ++i) {
    const u64 in = out;
    out = c.block_out_channels[i];
    for (int64_t j = 0; j < c.layers_per_block[i]; ++j) {
      total += resnet(j == 0 ? in : out, out, temb);
      if (cross_attn(c.down_block_types[i]))
        total += transformer_2d(out, c.transformer_layers_per_block[i], c.cross_attention_dim);
    }
    if (i + 1 < n) total += conv(out, out, 3);
  }
  return total;
}

u64 unet_up(const UNetConfig& c, u64 temb) {
  const size_t n = c.block_out_channels.size();
  const std::vector<int64_t> ch(c.block_out_channels.rbegin(), c.block_out_channels.rend());
  const std::vector<int64_t> layers(c.layers_per_block.rbegin(), c.layers_per_block.rend());
  const std::vector<int64_t> depth(c.transformer_layers_per_block.rbegin(),
                                   c.transformer_layers_per_block.rend());
  u64 total = 0, out = ch.front();
  for (size_t i = 0; i < n; ++i) {
    const u64 prev = out, in = ch[std::min(i + 1, n - 1)];
    out = ch[i];
    const int64_t resnets = layers[i] + 1;
    for (int64_t j = 0; j < resnets; ++j) {
      const u64 skip = j == resnets - 1 ? in : out;
      total += resnet((j == 0 ? prev : out) + skip, out, temb);
      if (cross_attn(c.up_block_types[i])) total += transformer_2d(out, depth[i], c.cross_attention_dim);
    }
    if (i + 1 < n) total += conv(out, out, 3);
  }
  return total;
}

// vae/unet_mid_block_2d.cpp: resnet, (attention, resnet).
u64 vae_mid(const VaeConfig& c, u64 ch) {
  return 2 * resnet(ch, ch, 0) + (c.mid_block_add_attention ? attention(ch, ch, true, true) : 0);
}

// vae/encoder.cpp and vae/decoder.cpp: resnets per block, a 3x3 conv between levels.
u64 vae_levels(const std::vector<int64_t>& ch, int64_t resnets) {
  u64 total = 0, out = ch.front();
  for (size_t i = 0; i < ch.size(); ++i) {
    const u64 in = out;
    out = ch[i];
    for (int64_t j = 0; j < resnets; ++j) total += resnet(j == 0 ? in : out, out, 0);
    if (i + 1 < ch.size()) total += conv(out, out, 3);
  }
  return total;
}

std::string gib(u64 bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f GiB", static_cast<double>(bytes) / (1ull << 30));
  return buf;
}

u64 file_values(const SafeTensorsFile& file) {
  u64 total = 0;
  for (const auto& key : file.keys()) {
    u64 n = 1;
    for (auto d : file.info(key).shape) n *= static_cast<u64>(d);
    total += n;
  }
  return total;
}

u64 mem_available() {
  std::ifstream in("/proc/meminfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("MemAvailable:", 0) == 0) {
      std::istringstream fields(line.substr(13));
      u64 kb = 0;
      fields >> kb;
      return kb * 1024;
    }
  }
  return 0;  // unknown: no memory check
}

}  // namespace

NetworkSize network_size(const UNetConfig& c) {
  const u64 ch0 = c.block_out_channels.front(), temb = c.time_embed_dim();
  const u64 mid = c.block_out_channels.back();
  NetworkSize s;
  s.floats = linear(ch0, temb) + linear(temb, temb) + conv(c.in_channels, ch0, c.conv_in_kernel) +
             unet_down(c, temb) + 2 * resnet(mid, mid, temb) +
             transformer_2d(mid, c.transformer_layers_per_block.back(), c.cross_attention_dim) +
             unet_up(c, temb) + norm(ch0) + conv(ch0, c.out_channels, c.conv_out_kernel);
  if (c.has_text_time())  // add_embedding (add_time_proj has no weights)
    s.floats += linear(c.projection_class_embeddings_input_dim, temb) + linear(temb, temb);
  return s;
}

NetworkSize network_size(const VaeConfig& c) {
  const std::vector<int64_t> rev(c.block_out_channels.rbegin(), c.block_out_channels.rend());
  const u64 latent = c.latent_channels, first = c.block_out_channels.front(),
            last = c.block_out_channels.back();
  NetworkSize s;
  s.floats = conv(c.in_channels, first, 3) + vae_levels(c.block_out_channels, c.layers_per_block) +
             vae_mid(c, last) + norm(last) + conv(last, 2 * latent, 3);  // encoder
  s.floats += conv(latent, last, 3) + vae_mid(c, last) + vae_levels(rev, c.layers_per_block + 1) +
              norm(first) + conv(first, c.out_channels, 3);  // decoder
  if (c.use_quant_conv) s.floats += conv(2 * latent, 2 * latent, 1);
  if (c.use_post_quant_conv) s.floats += conv(latent, latent, 1);
  return s;
}

NetworkSize network_size(const CLIPTextConfig& c) {
  const u64 h = c.hidden_size;
  const u64 layer =
      4 * linear(h, h) + 2 * norm(h) + linear(h, c.intermediate_size) + linear(c.intermediate_size, h);
  NetworkSize s;
  s.floats = (static_cast<u64>(c.vocab_size) + c.max_position_embeddings) * h + c.num_hidden_layers * layer +
             norm(h);
  s.int64s = c.max_position_embeddings;
  return s;
}

std::vector<ComponentSize> component_sizes(const ModelFolder& f) {
  // A single file holds all three networks (their keys and shapes are checked one by one instead);
  // a separate VAE file may hold training leftovers: no whole-file count for either.
  const bool single = f.checkpoint && f.checkpoint->model;
  const bool vae_file = f.checkpoint && f.checkpoint->vae;
  std::vector<ComponentSize> out{
      {f.config_name("text_encoder"), single ? "" : f.text_encoder_weights.string(),
       network_size(f.text_encoder)},
      {f.config_name("unet"), single ? "" : f.unet_weights.string(), network_size(f.unet)},
      {f.config_name("vae"), single || vae_file ? "" : f.vae_weights.string(), network_size(f.vae)}};
  if (f.text_encoder_2) {
    NetworkSize te2 = network_size(*f.text_encoder_2);
    te2.floats +=
        linear(f.text_encoder_2->hidden_size, f.text_encoder_2->projection_dim, false);  // text_projection
    out.insert(out.begin() + 1,
               {f.config_name("text_encoder_2"), single ? "" : f.text_encoder_2_weights.string(), te2});
  }
  return out;
}

void check_component_sizes(const std::vector<ComponentSize>& components, at::ScalarType dtype,
                           u64 available_bytes) {
  u64 total = 0;
  for (const auto& c : components) {
    const u64 in_file =
        c.weights_file.empty() ? c.size.values() : file_values(SafeTensorsFile::open(c.weights_file));
    if (in_file != c.size.values()) {
      throw sdk::Error(sdk::ErrorKind::model_error,
                       c.config_file + " describes a network of " + std::to_string(c.size.values()) +
                           " values (" + gib(c.size.bytes(dtype)) + " at " +
                           std::string(c10::toString(dtype)) + ") but " + c.weights_file + " holds " +
                           std::to_string(in_file) + ": the config does not belong to these weights");
    }
    total += c.size.bytes(dtype);
  }
  if (available_bytes > 0 && total > available_bytes) {
    throw sdk::Error(sdk::ErrorKind::model_error, "model weights need " + gib(total) + " of memory at " +
                                                      std::string(c10::toString(dtype)) + " but only " +
                                                      gib(available_bytes) + " is available (" +
                                                      components.front().config_file +
                                                      " and the other component configs)");
  }
}

void check_model_size(const ModelFolder& folder, at::ScalarType dtype) {
  check_component_sizes(component_sizes(folder), dtype, mem_available());
}

}  // namespace ftdr::torchbe
