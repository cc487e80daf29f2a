// clip/clip_text_model_with_projection.hpp: transformers' CLIPTextModelWithProjection (SDXL's
// text_encoder_2, OpenCLIP ViT-bigG in transformers' names).
//
//   CLIPTextModelWithProjection te2(folder.text_encoder_2);
//   load_module_weights(*te2, SafeTensorsFile::open(folder.text_encoder_2_weights), at::kFloat);
//   at::Tensor pooled = te2->text_embeds(ids);   // [B, projection_dim]
//
// The CLIPTextModel (text_model.*) plus text_projection (a Linear without bias, hidden_size ->
// projection_dim) applied to the pooled output: text_embeds = text_projection(final_layer_norm(
// last layer)[eos position]).
#pragma once
#include <torch/nn.h>

#include "clip/clip_text_model.hpp"
#include "nn/linear.hpp"

namespace ftdr::torchbe {

class CLIPTextModelWithProjectionImpl : public CLIPTextModelImpl {
 public:
  explicit CLIPTextModelWithProjectionImpl(const CLIPTextConfig& cfg);

  // transformers' text_embeds [B, projection_dim].
  at::Tensor text_embeds(const at::Tensor& input_ids);
  // text_embeds of an already computed last layer output (before final_layer_norm).
  at::Tensor project_last_layer(const at::Tensor& last_layer_output, const at::Tensor& input_ids);

  Linear text_projection{nullptr};
};
TORCH_MODULE(CLIPTextModelWithProjection);

}  // namespace ftdr::torchbe
