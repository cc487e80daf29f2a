// clip/clip_text_config.cpp: config.json -> CLIPTextConfig, refusing what the network does not implement.
#include "clip/clip_text_config.hpp"

#include "io/config_fields.hpp"

namespace ftdr::torchbe {

using nlohmann::json;

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
  f.read("projection_dim", c.projection_dim);
  f.require_range("projection_dim", c.projection_dim, 1, kMaxChannels);
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

}  // namespace ftdr::torchbe
