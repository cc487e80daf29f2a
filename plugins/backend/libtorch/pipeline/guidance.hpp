// pipeline/guidance.hpp: classifier-free guidance (Ho & Salimans 2022), batched as diffusers does.
//
//   at::Tensor ehs = guidance_embeddings(cond, uncond, batch, cfg);   // [2B, 77, D] or [B, 77, D]
//   at::Tensor out = unet->forward(guidance_input(x, cfg), t, ehs);
//   at::Tensor eps = combine_guidance(out, cfg);                       // [B, ...]
//
// With cfg > 1 the UNet runs once on the batch [uncond x B, cond x B] (uncond first, like diffusers)
// and eps = uncond + cfg * (cond - uncond). With cfg <= 1 there is no unconditional pass at all
// (UNet batch B, cond only), as diffusers' do_classifier_free_guidance = guidance_scale > 1.
#pragma once
#include <ATen/ATen.h>

namespace ftdr::torchbe {

inline bool uses_guidance(double cfg) { return cfg > 1.0; }

// cond / uncond: [1 or batch, T, D]; a single row is repeated for every image.
at::Tensor guidance_embeddings(const at::Tensor& cond, const at::Tensor& uncond, int64_t batch, double cfg);
// [x, x] along dim 0 with guidance, else x.
at::Tensor guidance_input(const at::Tensor& x, double cfg);
// The guided model output from the UNet output of guidance_input().
at::Tensor combine_guidance(const at::Tensor& model_output, double cfg);

}  // namespace ftdr::torchbe
