// adapter/request_validation.hpp: can this model run these parameters? (ModelBackend::validate)
//
// Every failure is sdk::Error(invalid_request) whose message starts with the field name:
//   width / height   >= 1 and a multiple of the VAE factor (8 for SD; 2 for the tiny models). As in
//                    diffusers, the UNet itself takes any latent size (odd sizes are upsampled to
//                    the skip connection's size), so no larger multiple is demanded.
//   steps            1 .. num_train_timesteps (the sampler's own check)
//   sampler          "default" or a name make_sampler() knows (its message lists them)
//   batch            >= 1 (both the request's and the sub-batch's), first_image >= 0
//   cfg_scale, eta   finite, eta >= 0
//   clip_skip        0 .. number of text encoder layers
#pragma once
#include "ftdr/sdk/types.hpp"
#include "io/model_folder.hpp"

namespace ftdr::torchbe {

void validate_params(const ModelFolder& model, const sdk::GenerationParams& params);

}  // namespace ftdr::torchbe
