// clip/clip_text_model_with_projection.cpp  (Ref: transformers models/clip/modeling_clip.py, v4.30,
// CLIPTextModelWithProjection)
#include "clip/clip_text_model_with_projection.hpp"
#include "nn/linear.hpp"

namespace ftdr::torchbe {

CLIPTextModelWithProjectionImpl::CLIPTextModelWithProjectionImpl(const CLIPTextConfig& cfg)
    : CLIPTextModelImpl(cfg) {
  text_projection = register_module(
      "text_projection", Linear(torch::nn::LinearOptions(cfg.hidden_size, cfg.projection_dim).bias(false)));
}

at::Tensor CLIPTextModelWithProjectionImpl::text_embeds(const at::Tensor& input_ids) {
  return text_projection(pooled(input_ids));
}

at::Tensor CLIPTextModelWithProjectionImpl::project_last_layer(const at::Tensor& last_layer_output,
                                                               const at::Tensor& input_ids) {
  return text_projection(pool(text_model->final_layer_norm(last_layer_output), input_ids));
}

}  // namespace ftdr::torchbe
