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

UNetConfig infer_unet_config(const ShapeMap& shapes, const std::string& prefix, TextEncoderKind family,
                             bool v_prediction, std::vector<std::string>& problems) {
  const size_t before = problems.size();
  Shapes s(shapes, prefix, problems);
  int64_t levels = 0, per_block = 0;
  unet_levels(s, levels, per_block);
  json down = json::array(), up = json::array(), channels = json::array(), heads = json::array();
  std::string first_attention;
  for (int64_t b = 0; b < levels; ++b) {
    const std::string block = at_index("input_blocks.", 1 + b * (per_block + 1), ".");
    const int64_t ch = s.dim(block + "0.out_layers.3.weight", 0);
    channels.push_back(ch);
    const bool attention = s.has(block + "1.proj_in.weight");
    if (attention && first_attention.empty()) first_attention = block + "1.";
    down.push_back(attention ? "CrossAttnDownBlock2D" : "DownBlock2D");
    const bool up_attention = s.has(at_index("output_blocks.", b * (per_block + 1), ".1.proj_in.weight"));
    up.push_back(up_attention ? "CrossAttnUpBlock2D" : "UpBlock2D");
    // v1: num_heads 8; v2: num_head_channels 64.
    heads.push_back(family == TextEncoderKind::clip ? 8 : std::max<int64_t>(1, ch / 64));
  }
  if (!s.has("middle_block.1.proj_in.weight"))
    problems.push_back("missing key " + prefix + "middle_block.1.proj_in.weight (the mid-block attention)");
  if (first_attention.empty()) first_attention = "middle_block.1.";
  json j = {{"in_channels", s.dim("input_blocks.0.0.weight", 1)},
            {"conv_in_kernel", s.dim("input_blocks.0.0.weight", 2)},
            {"out_channels", s.dim("out.2.weight", 0)},
            {"conv_out_kernel", s.dim("out.2.weight", 2)},
            {"block_out_channels", channels},
            {"down_block_types", down},
            {"up_block_types", up},
            {"layers_per_block", per_block},
            {"attention_head_dim", heads},
            {"cross_attention_dim", s.dim(first_attention + "transformer_blocks.0.attn2.to_k.weight", 1)},
            {"transformer_layers_per_block", s.count([&](int64_t i) {
               return at_index(first_attention + "transformer_blocks.", i, ".attn1.to_q.weight");
             })},
            {"use_linear_projection", s.rank(first_attention + "proj_in.weight") == 2},
            {"upcast_attention", family == TextEncoderKind::open_clip},
            {"sample_size", v_prediction ? 96 : 64}};  // 768 px for SD 2.x-v, else 512 px
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

CLIPTextConfig infer_text_config(const ShapeMap& shapes, const std::string& prefix, TextEncoderKind kind,
                                 std::vector<std::string>& problems) {
  const size_t before = problems.size();
  Shapes s(shapes, prefix, problems);
  const bool open_clip = kind == TextEncoderKind::open_clip;
  const std::string tokens = open_clip ? "token_embedding.weight" : "embeddings.token_embedding.weight";
  const std::string positions = open_clip ? "positional_embedding" : "embeddings.position_embedding.weight";
  const std::string layer = open_clip ? "transformer.resblocks." : "encoder.layers.";
  const std::string fc1 = open_clip ? ".mlp.c_fc.weight" : ".mlp.fc1.weight";
  const int64_t blocks = s.count([&](int64_t i) { return at_index(layer, i, fc1); });
  const int64_t hidden = s.dim(tokens, 1);
  json j = {{"vocab_size", s.dim(tokens, 0)},
            {"hidden_size", hidden},
            {"max_position_embeddings", s.dim(positions, 0)},
            {"intermediate_size", s.dim(layer + "0" + fc1, 0)},
            // SD 2.x runs the penultimate block (the last one is stored but unused)
            {"num_hidden_layers", open_clip ? blocks - 1 : blocks},
            {"num_attention_heads", std::max<int64_t>(1, hidden / 64)},
            {"hidden_act", open_clip ? "gelu" : "quick_gelu"},
            {"bos_token_id", 0},  // the SD configs' legacy ids (pooling by argmax; not used by SD)
            {"eos_token_id", 2},
            {"pad_token_id", 1}};
  if (blocks < (open_clip ? 2 : 1))
    problems.push_back("missing key " + prefix + layer + std::to_string(blocks) + fc1 +
                       " (text encoder layers)");
  if (problems.size() != before) return CLIPTextConfig{};
  return CLIPTextConfig::from_json(j, prefix + "* (text encoder config inferred from the shapes)");
}

}  // namespace ftdr::torchbe
