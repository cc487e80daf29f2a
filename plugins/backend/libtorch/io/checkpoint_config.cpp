// io/checkpoint_config.cpp: diffusers-style config.json values from a checkpoint's shapes, read
// back through the configs' own from_json() so every range check applies to them too.
#include "io/checkpoint_config.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <utility>

namespace ftdr::torchbe {
namespace {

using nlohmann::json;

// Looks keys up under one prefix; a missing key is remembered as a problem and reads as {}.
class Shapes {
 public:
  Shapes(const ShapeMap& shapes, std::string prefix, std::vector<std::string>& problems)
      : shapes_(shapes), prefix_(std::move(prefix)), problems_(problems) {}

  bool has(const std::string& key) const { return shapes_.count(prefix_ + key) != 0; }
  // Dimension `dim` of the key's shape; 0 (and a problem) when absent or too small.
  int64_t dim(const std::string& key, size_t dim) const {
    auto it = shapes_.find(prefix_ + key);
    if (it == shapes_.end() || it->second.size() <= dim) {
      problems_.push_back("missing key " + prefix_ + key + " (needed to tell the network's shape)");
      return 0;
    }
    return it->second[dim];
  }
  size_t rank(const std::string& key) const {
    auto it = shapes_.find(prefix_ + key);
    return it == shapes_.end() ? 0 : it->second.size();
  }
  // How many of `pattern(0)`, `pattern(1)`, ... exist, counting from 0 (bounded).
  template <typename F>
  int64_t count(F pattern) const {
    int64_t n = 0;
    while (n < 1000 && has(pattern(n))) ++n;
    return n;
  }

 private:
  const ShapeMap& shapes_;
  std::string prefix_;
  std::vector<std::string>& problems_;
};

std::string at_index(const std::string& head, int64_t i, const std::string& tail) {
  return head + std::to_string(i) + tail;
}

// input_blocks.N.0.op.* are the downsamplers: levels = their count + 1, and the first one's index
// gives the layers per level.
void unet_levels(const Shapes& s, int64_t& levels, int64_t& per_block) {
  const int64_t blocks =
      s.count([](int64_t i) { return at_index("input_blocks.", i, ".0.in_layers.0.weight"); });
  int64_t first_op = 0, ops = 0;
  for (int64_t i = 1; i < 1000 && (s.has(at_index("input_blocks.", i, ".0.in_layers.0.weight")) ||
                                   s.has(at_index("input_blocks.", i, ".0.op.weight")));
       ++i) {
    if (!s.has(at_index("input_blocks.", i, ".0.op.weight"))) continue;
    if (ops++ == 0) first_op = i;
  }
  per_block = ops > 0 ? first_op - 1 : blocks - 1;
  levels = ops + 1;
}

}  // namespace

ShapeMap shapes_of(const SafeTensorsFile& file) {
  ShapeMap out;
  for (const auto& key : file.keys()) out.emplace(key, file.info(key).shape);
  return out;
}

namespace {

// The UNet's structure from its shapes. heads_per_64_channels: num_head_channels 64 (SD 2.x, SDXL)
// rather than SD 1.x's 8 heads; per-level transformer depth (a level without attention: 1, as
// diffusers' configs write it).
json unet_structure(const Shapes& s, bool heads_per_64_channels, std::vector<std::string>& problems,
                    const std::string& prefix) {
  int64_t levels = 0, per_block = 0;
  unet_levels(s, levels, per_block);
  json down = json::array(), up = json::array(), channels = json::array(), heads = json::array(),
       depth = json::array();
  std::string first_attention;
  for (int64_t b = 0; b < levels; ++b) {
    const std::string block = at_index("input_blocks.", 1 + b * (per_block + 1), ".");
    const int64_t ch = s.dim(block + "0.out_layers.3.weight", 0);
    channels.push_back(ch);
    const bool attention = s.has(block + "1.proj_in.weight");
    if (attention && first_attention.empty()) first_attention = block + "1.";
    down.push_back(attention ? "CrossAttnDownBlock2D" : "DownBlock2D");
    depth.push_back(attention ? s.count([&](int64_t i) {
      return at_index(block + "1.transformer_blocks.", i, ".attn1.to_q.weight");
    })
                              : 1);
    const bool up_attention = s.has(at_index("output_blocks.", b * (per_block + 1), ".1.proj_in.weight"));
    up.push_back(up_attention ? "CrossAttnUpBlock2D" : "UpBlock2D");
    // v1: num_heads 8; v2 and SDXL: num_head_channels 64.
    heads.push_back(heads_per_64_channels ? std::max<int64_t>(1, ch / 64) : 8);
  }
  if (!s.has("middle_block.1.proj_in.weight"))
    problems.push_back("missing key " + prefix + "middle_block.1.proj_in.weight (the mid-block attention)");
  if (first_attention.empty()) first_attention = "middle_block.1.";
  // The mid block's depth is the last level's (diffusers: transformer_layers_per_block[-1]).
  if (!depth.empty() && !down.empty() && down.back() == "DownBlock2D")
    depth.back() = s.count(
        [](int64_t i) { return at_index("middle_block.1.transformer_blocks.", i, ".attn1.to_q.weight"); });
  return {{"in_channels", s.dim("input_blocks.0.0.weight", 1)},
          {"conv_in_kernel", s.dim("input_blocks.0.0.weight", 2)},
          {"out_channels", s.dim("out.2.weight", 0)},
          {"conv_out_kernel", s.dim("out.2.weight", 2)},
          {"block_out_channels", channels},
          {"down_block_types", down},
          {"up_block_types", up},
          {"layers_per_block", per_block},
          {"attention_head_dim", heads},
          {"cross_attention_dim", s.dim(first_attention + "transformer_blocks.0.attn2.to_k.weight", 1)},
          {"transformer_layers_per_block", depth},
          {"use_linear_projection", s.rank(first_attention + "proj_in.weight") == 2}};
}

}  // namespace

UNetConfig infer_unet_config(const ShapeMap& shapes, const std::string& prefix, TextEncoderKind family,
                             bool v_prediction, std::vector<std::string>& problems) {
  const size_t before = problems.size();
  Shapes s(shapes, prefix, problems);
  json j = unet_structure(s, family == TextEncoderKind::open_clip, problems, prefix);
  j["upcast_attention"] = family == TextEncoderKind::open_clip;
  j["sample_size"] = v_prediction ? 96 : 64;  // 768 px for SD 2.x-v, else 512 px
  if (problems.size() != before) return UNetConfig{};
  return UNetConfig::from_json(j, prefix + "* (UNet config inferred from the shapes)");
}

UNetConfig infer_sdxl_unet_config(const ShapeMap& shapes, const std::string& prefix, int64_t pooled_dim,
                                  std::vector<std::string>& problems) {
  const size_t before = problems.size();
  Shapes s(shapes, prefix, problems);
  json j = unet_structure(s, true, problems, prefix);
  const int64_t added_in = s.dim("label_emb.0.0.weight", 1);
  j["addition_embed_type"] = "text_time";
  j["addition_time_embed_dim"] = (added_in - pooled_dim) / UNetConfig::kTimeIds;
  j["projection_class_embeddings_input_dim"] = added_in;
  j["sample_size"] = 128;  // 1024 px
  if (added_in <= pooled_dim || (added_in - pooled_dim) % UNetConfig::kTimeIds != 0)
    problems.push_back(prefix + "label_emb.0.0.weight: " + std::to_string(added_in) +
                       " input channels is not 6 time embeddings + the pooled width " +
                       std::to_string(pooled_dim) + " of conditioner.embedders.1's text_projection");
  if (problems.size() != before) return UNetConfig{};
  return UNetConfig::from_json(j, prefix + "* (UNet config inferred from the shapes)");
}

VaeConfig infer_vae_config(const ShapeMap& shapes, const std::string& prefix,
                           std::vector<std::string>& problems) {
  const size_t before = problems.size();
  Shapes s(shapes, prefix, problems);
  const int64_t levels =
      s.count([](int64_t i) { return at_index("encoder.down.", i, ".block.0.conv1.weight"); });
  json channels = json::array(), down = json::array(), up = json::array();
  for (int64_t b = 0; b < levels; ++b) {
    channels.push_back(s.dim(at_index("encoder.down.", b, ".block.0.conv2.weight"), 0));
    down.push_back("DownEncoderBlock2D");
    up.push_back("UpDecoderBlock2D");
  }
  if (levels == 0)
    problems.push_back("missing key " + prefix + "encoder.down.0.block.0.conv1.weight (the VAE encoder)");
  json j = {{"in_channels", s.dim("encoder.conv_in.weight", 1)},
            {"out_channels", s.dim("decoder.conv_out.weight", 0)},
            {"latent_channels", s.dim("decoder.conv_in.weight", 1)},
            {"block_out_channels", channels},
            {"down_block_types", down},
            {"up_block_types", up},
            {"layers_per_block",
             s.count([](int64_t i) { return at_index("encoder.down.0.block.", i, ".conv1.weight"); })},
            {"use_quant_conv", s.has("quant_conv.weight")},
            {"use_post_quant_conv", s.has("post_quant_conv.weight")},
            {"sample_size", 512},
            {"scaling_factor", 0.18215}};  // SD 1.x and 2.x
  if (problems.size() != before) return VaeConfig{};
  return VaeConfig::from_json(j, prefix + "* (VAE config inferred from the shapes)");
}

namespace {

json text_json(const Shapes& s, const std::string& prefix, bool open_clip, int64_t& blocks,
               std::vector<std::string>& problems) {
  const std::string tokens = open_clip ? "token_embedding.weight" : "embeddings.token_embedding.weight";
  const std::string positions = open_clip ? "positional_embedding" : "embeddings.position_embedding.weight";
  const std::string layer = open_clip ? "transformer.resblocks." : "encoder.layers.";
  const std::string fc1 = open_clip ? ".mlp.c_fc.weight" : ".mlp.fc1.weight";
  blocks = s.count([&](int64_t i) { return at_index(layer, i, fc1); });
  const int64_t hidden = s.dim(tokens, 1);
  if (blocks < (open_clip ? 2 : 1))
    problems.push_back("missing key " + prefix + layer + std::to_string(blocks) + fc1 +
                       " (text encoder layers)");
  return {{"vocab_size", s.dim(tokens, 0)},
          {"hidden_size", hidden},
          {"max_position_embeddings", s.dim(positions, 0)},
          {"intermediate_size", s.dim(layer + "0" + fc1, 0)},
          {"num_hidden_layers", blocks},
          {"num_attention_heads", std::max<int64_t>(1, hidden / 64)},
          {"hidden_act", open_clip ? "gelu" : "quick_gelu"},
          {"bos_token_id", 0},  // the SD configs' legacy ids (pooling by argmax)
          {"eos_token_id", 2},
          {"pad_token_id", 1}};
}

}  // namespace

CLIPTextConfig infer_text_config(const ShapeMap& shapes, const std::string& prefix, TextEncoderKind kind,
                                 std::vector<std::string>& problems) {
  const size_t before = problems.size();
  Shapes s(shapes, prefix, problems);
  const bool open_clip = kind == TextEncoderKind::open_clip;
  int64_t blocks = 0;
  json j = text_json(s, prefix, open_clip, blocks, problems);
  // SD 2.x runs the penultimate block (the last one is stored but unused)
  if (open_clip) j["num_hidden_layers"] = blocks - 1;
  if (problems.size() != before) return CLIPTextConfig{};
  return CLIPTextConfig::from_json(j, prefix + "* (text encoder config inferred from the shapes)");
}

CLIPTextConfig infer_sdxl_text_config_2(const ShapeMap& shapes, const std::string& prefix,
                                        std::vector<std::string>& problems) {
  const size_t before = problems.size();
  Shapes s(shapes, prefix, problems);
  int64_t blocks = 0;
  json j = text_json(s, prefix, true, blocks, problems);
  j["projection_dim"] = s.dim("text_projection", 1);  // stored [hidden, projection]
  if (problems.size() != before) return CLIPTextConfig{};
  return CLIPTextConfig::from_json(j, prefix + "* (text encoder 2 config inferred from the shapes)");
}

}  // namespace ftdr::torchbe
