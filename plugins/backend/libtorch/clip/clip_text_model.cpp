// clip/clip_text_model.cpp  (Ref: transformers models/clip/modeling_clip.py, v4.30)
#include "clip/clip_text_model.hpp"
#include "nn/stop_point.hpp"

#include <limits>

#include "ftdr/sdk/error.hpp"
#include "nn/embedding.hpp"
#include "nn/layer_norm.hpp"
#include "nn/linear.hpp"

namespace ftdr::torchbe {

namespace {
constexpr double kQuickGeluScale = 1.702;  // quick_gelu(x) = x * sigmoid(1.702 x)

LayerNorm make_layer_norm(const CLIPTextConfig& cfg) {
  return LayerNorm(torch::nn::LayerNormOptions({cfg.hidden_size}).eps(cfg.layer_norm_eps));
}
}  // namespace

CLIPAttentionImpl::CLIPAttentionImpl(const CLIPTextConfig& cfg, AttentionSettingsPtr settings)
    : heads_(cfg.num_attention_heads), settings_(std::move(settings)) {
  const int64_t d = cfg.hidden_size;
  k_proj = register_module("k_proj", Linear(d, d));
  v_proj = register_module("v_proj", Linear(d, d));
  q_proj = register_module("q_proj", Linear(d, d));
  out_proj = register_module("out_proj", Linear(d, d));
}

at::Tensor CLIPAttentionImpl::forward(const at::Tensor& x, const at::Tensor& causal_mask) {
  at::Tensor out =
      attention(q_proj(x), k_proj(x), v_proj(x), heads_, *settings_, /*upcast=*/false, causal_mask);
  return out_proj(out);
}

CLIPMLPImpl::CLIPMLPImpl(const CLIPTextConfig& cfg) : quick_gelu_(cfg.hidden_act == "quick_gelu") {
  fc1 = register_module("fc1", Linear(cfg.hidden_size, cfg.intermediate_size));
  fc2 = register_module("fc2", Linear(cfg.intermediate_size, cfg.hidden_size));
}

at::Tensor CLIPMLPImpl::forward(const at::Tensor& x) {
  at::Tensor h = fc1(x);
  h = quick_gelu_ ? h * at::sigmoid(h * kQuickGeluScale) : at::gelu(h);
  return fc2(h);
}

CLIPEncoderLayerImpl::CLIPEncoderLayerImpl(const CLIPTextConfig& cfg, AttentionSettingsPtr settings) {
  self_attn = register_module("self_attn", CLIPAttention(cfg, settings));
  layer_norm1 = register_module("layer_norm1", make_layer_norm(cfg));
  mlp = register_module("mlp", CLIPMLP(cfg));
  layer_norm2 = register_module("layer_norm2", make_layer_norm(cfg));
}

at::Tensor CLIPEncoderLayerImpl::forward(const at::Tensor& x, const at::Tensor& causal_mask) {
  at::Tensor h = x + self_attn(layer_norm1(x), causal_mask);
  return h + mlp(layer_norm2(h));
}

CLIPTextEmbeddingsImpl::CLIPTextEmbeddingsImpl(const CLIPTextConfig& cfg) {
  token_embedding = register_module("token_embedding", Embedding(cfg.vocab_size, cfg.hidden_size));
  position_embedding =
      register_module("position_embedding", Embedding(cfg.max_position_embeddings, cfg.hidden_size));
  position_ids =
      register_buffer("position_ids", at::arange(cfg.max_position_embeddings, at::kLong).unsqueeze(0));
}

at::Tensor CLIPTextEmbeddingsImpl::forward(const at::Tensor& input_ids) {
  const int64_t len = input_ids.size(-1);
  return token_embedding(input_ids) + position_embedding(position_ids.slice(1, 0, len));
}

CLIPEncoderImpl::CLIPEncoderImpl(const CLIPTextConfig& cfg, AttentionSettingsPtr settings) {
  layers = register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < cfg.num_hidden_layers; ++i) {
    typed_layers.emplace_back(cfg, settings);
    layers->push_back(typed_layers.back());
  }
}

CLIPTextTransformerImpl::CLIPTextTransformerImpl(const CLIPTextConfig& cfg, AttentionSettingsPtr settings) {
  embeddings = register_module("embeddings", CLIPTextEmbeddings(cfg));
  encoder = register_module("encoder", CLIPEncoder(cfg, settings));
  final_layer_norm = register_module("final_layer_norm", make_layer_norm(cfg));
}

CLIPTextModelImpl::CLIPTextModelImpl(const CLIPTextConfig& cfg)
    : cfg_(cfg), settings_(std::make_shared<AttentionSettings>()) {
  text_model = register_module("text_model", CLIPTextTransformer(cfg, settings_));
}

at::Tensor CLIPTextModelImpl::run_layers(const at::Tensor& input_ids, int64_t num_layers,
                                         std::vector<at::Tensor>* hidden_states) {
  const int64_t len = input_ids.size(-1);
  if (len > cfg_.max_position_embeddings)
    throw sdk::Error(sdk::ErrorKind::invalid_request, "text encoder: " + std::to_string(len) +
                                                          " tokens, at most max_position_embeddings = " +
                                                          std::to_string(cfg_.max_position_embeddings));
  at::Tensor h = text_model->embeddings(input_ids);
  // Additive causal mask: position i attends to positions <= i.
  at::Tensor mask = at::full({len, len}, -std::numeric_limits<float>::infinity(), h.options()).triu(1);
  if (hidden_states) hidden_states->push_back(h);
  auto& layers = text_model->encoder->typed_layers;
  for (int64_t i = 0; i < num_layers; ++i) {
    stop_point();
    h = layers[static_cast<size_t>(i)](h, mask);
    if (hidden_states) hidden_states->push_back(h);
  }
  return h;
}

at::Tensor CLIPTextModelImpl::forward(const at::Tensor& input_ids, int clip_skip) {
  const int64_t total = cfg_.num_hidden_layers;
  const int64_t skipped = clip_skip >= 2 ? clip_skip - 1 : 0;
  if (skipped >= total)
    throw sdk::Error(sdk::ErrorKind::invalid_request, "clip_skip " + std::to_string(clip_skip) +
                                                          ": the text encoder has only " +
                                                          std::to_string(total) + " layers");
  return text_model->final_layer_norm(run_layers(input_ids, total - skipped, nullptr));
}

at::Tensor CLIPTextModelImpl::pooled(const at::Tensor& input_ids) {
  return pool(forward(input_ids), input_ids);
}

at::Tensor CLIPTextModelImpl::pool(const at::Tensor& last, const at::Tensor& input_ids) const {
  // Legacy configs (eos_token_id 2) pick argmax(ids): the eos token has the highest id.
  at::Tensor pos = cfg_.eos_token_id == 2 ? input_ids.argmax(-1)
                                          : (input_ids == cfg_.eos_token_id).to(at::kInt).argmax(-1);
  at::Tensor rows = at::arange(last.size(0), pos.options());
  return last.index({rows, pos});
}

at::Tensor CLIPTextModelImpl::hidden_state(const at::Tensor& input_ids, int64_t layers) {
  if (layers < 0 || layers > cfg_.num_hidden_layers)
    throw sdk::Error(sdk::ErrorKind::invalid_request, "text encoder: hidden state " + std::to_string(layers) +
                                                          " of a text encoder with " +
                                                          std::to_string(cfg_.num_hidden_layers) + " layers");
  return run_layers(input_ids, layers, nullptr);
}

std::vector<at::Tensor> CLIPTextModelImpl::hidden_states(const at::Tensor& input_ids) {
  std::vector<at::Tensor> out;
  run_layers(input_ids, cfg_.num_hidden_layers, &out);
  return out;
}

}  // namespace ftdr::torchbe
