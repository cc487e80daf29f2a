// adapter/model_info.hpp: the facts about a loaded model folder that the host asks for (ModelInfo).
//
// family: "sdxl" for a model with a second text encoder (ModelFolder::is_sdxl), else "sd1" or
// "sd2". Real checkpoints are told apart by the UNet's cross_attention_dim (768 =
// CLIP ViT-L, SD 1.x; 1024 = OpenCLIP ViT-H, SD 2.x). Other sizes (tiny test models) are decided by
// a vote of three hints that follow the SD 2.x conventions: text encoder hidden_act "gelu" (SD 1.x:
// "quick_gelu"), UNet use_linear_projection true, scheduler prediction_type "v_prediction"; two or
// more hints -> "sd2". tiny-sd1 gives 0 votes, tiny-sd2v 3.
// default_sampler: the scheduler's _class_name mapped to our sampler names (PNDMScheduler -> "pndm",
// DDIMScheduler -> "ddim", EulerDiscreteScheduler -> "euler", EulerAncestralDiscreteScheduler ->
// "euler_a", DPMSolverMultistepScheduler -> "dpmpp_2m" or "dpmpp_2m_karras" when use_karras_sigmas,
// LMSDiscreteScheduler -> "lms"); any other class is a model_error naming scheduler_config.json.
// default_size: unet sample_size x the VAE's scale factor (SDXL base: 128 x 8 = 1024).
#pragma once
#include <string>

#include "ftdr/sdk/backend.hpp"
#include "io/model_folder.hpp"

namespace ftdr::torchbe {

std::string detect_family(const ModelFolder& folder);
std::string default_sampler_name(const ModelFolder& folder);
sdk::ModelInfo make_model_info(const ModelFolder& folder);

}  // namespace ftdr::torchbe
