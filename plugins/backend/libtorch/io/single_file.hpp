// io/single_file.hpp: a model from a diffusers folder or a single-file checkpoint, and the weights
// of each of its networks.
//
//   ModelFolder m = read_model("sd15.safetensors", options);   // or a folder
//   UNet2DConditionModel unet(m.unet);
//   load_module_weights(*unet, weights_of(m, "unet"), at::kFloat);
//
// A single file is a .safetensors (or .ckpt, io/pickle_checkpoint.hpp) in the original LDM /
// AUTOMATIC1111 layout (io/checkpoint_keys.hpp). The family comes from its keys:
// cond_stage_model.transformer.* is SD 1.x (CLIP ViT-L), cond_stage_model.model.* is SD 2.x
// (OpenCLIP ViT-H), conditioner.embedders.{0,1}.* is SDXL base (CLIP ViT-L + OpenCLIP ViT-bigG with
// text_projection); the network configs from its shapes (io/checkpoint_config.hpp), or from the
// diffusers folder `options.config` (like diffusers' from_single_file(config=...)). v-prediction
// comes from options.prediction_type, else from an A1111 sidecar "<name>.yaml" next to the file
// containing `parameterization: "v"`. The scheduler is SD's standard one (kStandardSchedulerConfig;
// SDXL: kSdxlSchedulerConfig), the tokenizer the built-in CLIP vocabulary (SD 2.x and SDXL's second
// pad with "!"), unless options.config has them.
// options.vae names a separate VAE file (LDM names with or without first_stage_model., or diffusers
// names) for a single file or a folder.
// Every problem found before loading (unknown layout, a key the configs need, an SDXL refiner or LoRA file)
// is listed in one sdk::Error(model_error) naming the file.
#pragma once
#include <optional>
#include <string>

#include "io/checkpoint_config.hpp"
#include "io/model_folder.hpp"
#include "io/safetensors.hpp"
#include "io/weights.hpp"

namespace ftdr::torchbe {

struct CheckpointFiles {
  std::optional<SafeTensorsFile> model;  // the single file; absent for a folder with a separate VAE
  TextEncoderKind text = TextEncoderKind::clip;
  std::string text_prefix;       // cond_stage_model.transformer.[text_model.] or cond_stage_model.model.
                                 // (SDXL: conditioner.embedders.0.transformer.[text_model.])
  bool sdxl = false;             // SDXL base (conditioner.embedders.*)
  std::string text_2_prefix;     // SDXL only: conditioner.embedders.1.model.
  int64_t open_clip_layers = 0;  // the text encoder's layers (the stored block after them is unused)
  std::optional<SafeTensorsFile> vae;  // the separate VAE file, when given
  std::string vae_prefix;              // first_stage_model. or "" (in `vae` or else in `model`)
  bool vae_diffusers_names = false;    // a separate VAE in diffusers' names (encoder.down_blocks...)
};

// diffusers' PNDMScheduler config of runwayml/stable-diffusion-v1-5 (also SD 2.x's noise schedule).
extern const char* const kStandardSchedulerConfig;
// stabilityai/stable-diffusion-xl-base-1.0's scheduler_config.json (EulerDiscreteScheduler, the same
// noise schedule, timestep_spacing "leading").
extern const char* const kSdxlSchedulerConfig;

// A folder (read_model_folder) or a single file; options.vae and options.prediction_type apply to both.
ModelFolder read_model(const std::filesystem::path& path, const ModelOptions& options);

// The weights of "text_encoder", "text_encoder_2" (SDXL), "unet" or "vae" with the names our networks use.
WeightSource weights_of(const ModelFolder& model, const std::string& component);

// A1111's sidecar: "<file without extension>.yaml" with a `parameterization: "v"` line.
bool sidecar_says_v_prediction(const std::filesystem::path& checkpoint);

}  // namespace ftdr::torchbe
