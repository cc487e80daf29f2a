// clip/clip_text_config.hpp: the text encoder's config (text_encoder/config.json).
//
// A plain struct; every field has the library's default (diffusers 0.31 / transformers 4.30) so a
// config.json that omits a key reads exactly as the Python library reads it. from_json() throws
// sdk::Error(model_error) naming the file and the key when a value has the wrong type, is out of
// range, or asks for something this network does not implement: an unsupported model is refused
// up front, never run into a wrong image. Keys not listed are ignored only when the Python library
// ignores them too (bookkeeping such as _class_name, _diffusers_version).
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>

namespace ftdr::torchbe {

// transformers CLIPTextConfig (text_encoder/config.json).
struct CLIPTextConfig {
  int64_t vocab_size = 49408;
  int64_t hidden_size = 512;
  int64_t intermediate_size = 2048;
  int64_t num_hidden_layers = 12;
  int64_t num_attention_heads = 8;
  int64_t max_position_embeddings = 77;
  std::string hidden_act = "quick_gelu";  // "quick_gelu" (SD 1.x) or "gelu" (SD 2.x)
  double layer_norm_eps = 1e-5;
  int64_t pad_token_id = 1;
  int64_t bos_token_id = 49406;
  // 2 = the legacy pooling path (argmax of input ids), as in the SD 1.x/2.x configs.
  int64_t eos_token_id = 49407;
  // CLIPTextModelWithProjection (SDXL's text_encoder_2) only: text_projection's output width.
  int64_t projection_dim = 512;

  static CLIPTextConfig from_json(const nlohmann::json& j, const std::string& file);
};

}  // namespace ftdr::torchbe
