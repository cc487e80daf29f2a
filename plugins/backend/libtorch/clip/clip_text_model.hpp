// clip/clip_text_model.hpp: transformers' CLIPTextModel (the SD 1.x / 2.x text encoder).
//
//   CLIPTextModel te(folder.text_encoder);
//   load_module_weights(*te, SafeTensorsFile::open(folder.text_encoder_weights), at::kFloat);
//   at::Tensor ehs = te->forward(ids);          // ids [B, 77] int64 -> [B, 77, hidden]
//
// Module names match transformers exactly (text_model.embeddings.token_embedding.weight,
// text_model.encoder.layers.N.self_attn.q_proj.weight, text_model.final_layer_norm.weight, ...),
// including the persistent position_ids buffer. Causal attention mask, no padding mask (as the SD
// pipelines call it).
#pragma once
#include <torch/nn.h>

#include <vector>

#include "clip/clip_text_config.hpp"
#include "nn/attention.hpp"
#include "nn/embedding.hpp"
#include "nn/layer_norm.hpp"
#include "nn/linear.hpp"

namespace ftdr::torchbe {

class CLIPAttentionImpl : public torch::nn::Module {
 public:
  CLIPAttentionImpl(const CLIPTextConfig& cfg, AttentionSettingsPtr settings);
  at::Tensor forward(const at::Tensor& x, const at::Tensor& causal_mask);

  Linear k_proj{nullptr}, v_proj{nullptr}, q_proj{nullptr}, out_proj{nullptr};

 private:
  int64_t heads_;
  AttentionSettingsPtr settings_;
};
TORCH_MODULE(CLIPAttention);

class CLIPMLPImpl : public torch::nn::Module {
 public:
  explicit CLIPMLPImpl(const CLIPTextConfig& cfg);
  at::Tensor forward(const at::Tensor& x);

  Linear fc1{nullptr}, fc2{nullptr};

 private:
  bool quick_gelu_;
};
TORCH_MODULE(CLIPMLP);

class CLIPEncoderLayerImpl : public torch::nn::Module {
 public:
  CLIPEncoderLayerImpl(const CLIPTextConfig& cfg, AttentionSettingsPtr settings);
  at::Tensor forward(const at::Tensor& x, const at::Tensor& causal_mask);

  CLIPAttention self_attn{nullptr};
  LayerNorm layer_norm1{nullptr};
  CLIPMLP mlp{nullptr};
  LayerNorm layer_norm2{nullptr};
};
TORCH_MODULE(CLIPEncoderLayer);

class CLIPTextEmbeddingsImpl : public torch::nn::Module {
 public:
  explicit CLIPTextEmbeddingsImpl(const CLIPTextConfig& cfg);
  at::Tensor forward(const at::Tensor& input_ids);

  Embedding token_embedding{nullptr}, position_embedding{nullptr};
  at::Tensor position_ids;  // [1, max_position_embeddings] int64 (stored in the checkpoints)
};
TORCH_MODULE(CLIPTextEmbeddings);

class CLIPEncoderImpl : public torch::nn::Module {
 public:
  CLIPEncoderImpl(const CLIPTextConfig& cfg, AttentionSettingsPtr settings);
  torch::nn::ModuleList layers{nullptr};
  std::vector<CLIPEncoderLayer> typed_layers;  // the same modules, typed
};
TORCH_MODULE(CLIPEncoder);

// Holds what transformers calls CLIPTextTransformer; registered as "text_model".
class CLIPTextTransformerImpl : public torch::nn::Module {
 public:
  CLIPTextTransformerImpl(const CLIPTextConfig& cfg, AttentionSettingsPtr settings);
  CLIPTextEmbeddings embeddings{nullptr};
  CLIPEncoder encoder{nullptr};
  LayerNorm final_layer_norm{nullptr};
};
TORCH_MODULE(CLIPTextTransformer);

class CLIPTextModelImpl : public torch::nn::Module {
 public:
  explicit CLIPTextModelImpl(const CLIPTextConfig& cfg);

  // last_hidden_state [B, T, hidden]: after final_layer_norm. clip_skip 0 or 1: all layers;
  // clip_skip >= 2: the output of layer L-(clip_skip-1) (2 = penultimate), then final_layer_norm,
  // as A1111 and diffusers' clip_skip=(clip_skip-1) do. clip_skip > L: sdk::Error(invalid_request).
  at::Tensor forward(const at::Tensor& input_ids, int clip_skip = 0);
  // pooler_output [B, hidden]: last_hidden_state at the eos position (argmax of the ids when
  // eos_token_id == 2, the legacy configs; else the first eos_token_id).
  at::Tensor pooled(const at::Tensor& input_ids);
  // The pooled row of a final-layer-norm'ed state (see pooled()).
  at::Tensor pool(const at::Tensor& last_hidden_state, const at::Tensor& input_ids) const;
  // The output of the first `layers` layers, without final_layer_norm (transformers'
  // hidden_states[layers]; SDXL conditions on hidden_states[-2], layers = L - 1).
  at::Tensor hidden_state(const at::Tensor& input_ids, int64_t layers);
  // transformers' hidden_states: embedding output, then each layer's output (L+1 tensors, no
  // final_layer_norm).
  std::vector<at::Tensor> hidden_states(const at::Tensor& input_ids);

  void set_attention(const AttentionSettings& settings) { *settings_ = settings; }
  const CLIPTextConfig& config() const { return cfg_; }

  CLIPTextTransformer text_model{nullptr};

 private:
  at::Tensor run_layers(const at::Tensor& input_ids, int64_t num_layers,
                        std::vector<at::Tensor>* hidden_states);

  CLIPTextConfig cfg_;
  AttentionSettingsPtr settings_;
};
TORCH_MODULE(CLIPTextModel);

}  // namespace ftdr::torchbe
