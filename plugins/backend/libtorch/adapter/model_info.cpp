// backend/model_info.cpp: see model_info.h.
#include "adapter/model_info.hpp"

#include <map>

#include "ftdr/sdk/error.hpp"
#include "io/single_file.hpp"

namespace ftdr::torchbe {

std::string detect_family(const ModelFolder& folder) {
  if (folder.is_sdxl()) return "sdxl";
  // A single file's family is its text encoder's layout (io/single_file.hpp).
  if (folder.checkpoint && folder.checkpoint->model)
    return folder.checkpoint->text == TextEncoderKind::open_clip ? "sd2" : "sd1";
  if (folder.unet.cross_attention_dim == 768) return "sd1";
  if (folder.unet.cross_attention_dim == 1024) return "sd2";
  int sd2_votes = 0;
  if (folder.text_encoder.hidden_act == "gelu") ++sd2_votes;
  if (folder.unet.use_linear_projection) ++sd2_votes;
  if (folder.scheduler_config.value("prediction_type", std::string("epsilon")) == "v_prediction") ++sd2_votes;
  return sd2_votes >= 2 ? "sd2" : "sd1";
}

std::string default_sampler_name(const ModelFolder& folder) {
  static const std::map<std::string, std::string> by_class = {
      {"PNDMScheduler", "pndm"},
      {"DDIMScheduler", "ddim"},
      {"EulerDiscreteScheduler", "euler"},
      {"EulerAncestralDiscreteScheduler", "euler_a"},
      {"DPMSolverMultistepScheduler", "dpmpp_2m"},
      {"LMSDiscreteScheduler", "lms"},
  };
  const auto& sc = folder.scheduler_config;
  const std::string cls = sc.value("_class_name", std::string());
  auto it = by_class.find(cls);
  if (it == by_class.end()) {
    throw sdk::Error(
        sdk::ErrorKind::model_error,
        (folder.checkpoint && folder.checkpoint->model
             ? folder.root.string() + " (scheduler config)"
             : (folder.root / "scheduler" / "scheduler_config.json").string()) +
            ": _class_name \"" + cls +
            "\" is not a supported scheduler (expected PNDMScheduler, DDIMScheduler, "
            "EulerDiscreteScheduler, EulerAncestralDiscreteScheduler, DPMSolverMultistepScheduler "
            "or LMSDiscreteScheduler)");
  }
  if (it->second == "dpmpp_2m" && sc.value("use_karras_sigmas", false)) return "dpmpp_2m_karras";
  return it->second;
}

sdk::ModelInfo make_model_info(const ModelFolder& folder) {
  sdk::ModelInfo info;
  info.name = folder.root.filename().string();
  if (info.name.empty()) info.name = folder.root.parent_path().filename().string();  // "dir/" form
  info.family = detect_family(folder);
  info.default_sampler = default_sampler_name(folder);
  info.prediction_type = folder.scheduler_config.value("prediction_type", std::string("epsilon"));
  info.vae_scale_factor = static_cast<int>(folder.vae.scale_factor());
  info.latent_channels = static_cast<int>(folder.vae.latent_channels);
  info.default_size = static_cast<int>(folder.unet.sample_size) * info.vae_scale_factor;
  return info;
}

}  // namespace ftdr::torchbe
