// io/single_file.cpp: a single-file checkpoint read into the same description as a folder.
#include "io/single_file.hpp"

#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "ftdr/sdk/error.hpp"
#include "io/checkpoint_keys.hpp"
#include "io/key_text.hpp"
#include "io/tensor_file.hpp"
#include "samplers/scheduler_config.hpp"

namespace ftdr::torchbe {
namespace fs = std::filesystem;

const char* const kStandardSchedulerConfig = R"({
  "_class_name": "PNDMScheduler",
  "beta_end": 0.012,
  "beta_schedule": "scaled_linear",
  "beta_start": 0.00085,
  "clip_sample": false,
  "num_train_timesteps": 1000,
  "set_alpha_to_one": false,
  "skip_prk_steps": true,
  "steps_offset": 1,
  "trained_betas": null
})";

const char* const kSdxlSchedulerConfig = R"({
  "_class_name": "EulerDiscreteScheduler",
  "beta_end": 0.012,
  "beta_schedule": "scaled_linear",
  "beta_start": 0.00085,
  "clip_sample": false,
  "interpolation_type": "linear",
  "num_train_timesteps": 1000,
  "prediction_type": "epsilon",
  "sample_max_value": 1.0,
  "set_alpha_to_one": false,
  "skip_prk_steps": true,
  "steps_offset": 1,
  "timestep_spacing": "leading",
  "trained_betas": null,
  "use_karras_sigmas": false
})";

namespace {

bool any_key_under(const SafeTensorsFile& file, const std::string& prefix) {
  for (const auto& key : file.keys())
    if (starts_with(key, prefix)) return true;
  return false;
}

// The first name of every key, with counts: what a file that is no checkpoint holds instead.
std::string top_prefixes(const SafeTensorsFile& file) {
  std::map<std::string, size_t> counts;
  for (const auto& key : file.keys()) ++counts[key.substr(0, key.find('.'))];
  std::string out;
  size_t shown = 0;
  for (const auto& [prefix, n] : counts) {
    if (shown++ == 12) return out + ", ...";
    out += (out.empty() ? "" : ", ") + prefix + ".* (" + std::to_string(n) + ")";
  }
  return out.empty() ? "no tensors" : out;
}

// The layout of the checkpoint's keys; what is not SD 1.x/2.x is a problem naming what it is.
// SDXL base: CLIP ViT-L under embedders.0.transformer., OpenCLIP ViT-bigG under embedders.1.model.
void detect_sdxl_layout(const SafeTensorsFile& file, CheckpointFiles& c, std::vector<std::string>& problems) {
  if (any_key_under(file, "conditioner.embedders.0.model."))
    problems.push_back(
        "an SDXL refiner checkpoint (OpenCLIP under conditioner.embedders.0.model.*): only SDXL base is "
        "supported");
  else if (!any_key_under(file, ckpt_prefix::sdxl_clip) || !any_key_under(file, ckpt_prefix::sdxl_open_clip))
    problems.push_back(std::string("an SDXL checkpoint needs both text encoders: keys under ") +
                       ckpt_prefix::sdxl_clip + "* (CLIP ViT-L) and " + ckpt_prefix::sdxl_open_clip +
                       "* (OpenCLIP ViT-bigG)");
  else if (!any_key_under(file, ckpt_prefix::unet))
    problems.push_back(std::string("an SDXL checkpoint without a UNet (") + ckpt_prefix::unet + "*)");
  if (!problems.empty()) return;
  c.sdxl = true;
  const std::string with_text_model = std::string(ckpt_prefix::sdxl_clip) + "text_model.";
  c.text_prefix = any_key_under(file, with_text_model) ? with_text_model : ckpt_prefix::sdxl_clip;
  c.text_2_prefix = ckpt_prefix::sdxl_open_clip;
}

void detect_layout(const SafeTensorsFile& file, CheckpointFiles& c, std::vector<std::string>& problems) {
  if (any_key_under(file, ckpt_prefix::sdxl_embedders)) return detect_sdxl_layout(file, c, problems);
  if (any_key_under(file, "lora_unet_") || any_key_under(file, "lora_te"))
    problems.push_back("a LoRA file (lora_unet_* / lora_te* keys), not a model");
  else if (!any_key_under(file, ckpt_prefix::unet))
    problems.push_back(
        "unknown layout: expected the original Stable Diffusion layout (model.diffusion_model.*, "
        "first_stage_model.*, cond_stage_model.*), found " +
        top_prefixes(file));
  if (!problems.empty()) return;
  if (any_key_under(file, ckpt_prefix::open_clip)) {
    c.text = TextEncoderKind::open_clip;
    c.text_prefix = ckpt_prefix::open_clip;
  } else if (any_key_under(file, std::string(ckpt_prefix::clip) + "text_model.")) {
    c.text_prefix = std::string(ckpt_prefix::clip) + "text_model.";
  } else if (any_key_under(file, ckpt_prefix::clip)) {
    c.text_prefix = ckpt_prefix::clip;  // older checkpoints: transformers' names without text_model.
  } else {
    problems.push_back(
        "no text encoder: expected keys under cond_stage_model.transformer.* (SD 1.x, CLIP "
        "ViT-L) or cond_stage_model.model.* (SD 2.x, OpenCLIP)");
  }
}

// The separate VAE's naming: LDM under first_stage_model., LDM bare, or diffusers.
void detect_vae_layout(const SafeTensorsFile& vae, CheckpointFiles& c, std::vector<std::string>& problems) {
  if (any_key_under(vae, std::string(ckpt_prefix::vae) + "encoder.")) {
    c.vae_prefix = ckpt_prefix::vae;
  } else if (vae.contains("encoder.down.0.block.0.conv1.weight")) {
    c.vae_prefix = "";
  } else if (vae.contains("encoder.down_blocks.0.resnets.0.conv1.weight")) {
    c.vae_diffusers_names = true;
  } else {
    problems.push_back(vae.path().string() +
                       ": not a VAE (expected encoder.down.* / decoder.up.* keys, "
                       "with or without first_stage_model., or diffusers' encoder.down_blocks.*), found " +
                       top_prefixes(vae));
  }
}

// Keys under none of the layout's components (and not skipped on purpose): a wrong-family or
// damaged file says so here rather than loading what happens to match.
void unclaimed_keys(const SafeTensorsFile& file, const CheckpointFiles& c,
                    std::vector<std::string>& problems) {
  const std::string text_root = c.sdxl                                 ? ckpt_prefix::sdxl_clip
                                : c.text == TextEncoderKind::open_clip ? ckpt_prefix::open_clip
                                                                       : ckpt_prefix::clip;
  const std::string text_2_root = c.sdxl ? ckpt_prefix::sdxl_open_clip : text_root;
  std::vector<std::string> stray;
  for (const auto& key : file.keys()) {
    if (starts_with(key, ckpt_prefix::unet) || starts_with(key, ckpt_prefix::vae) ||
        starts_with(key, text_root) || starts_with(key, text_2_root) || ignored_checkpoint_key(key, 0))
      continue;
    stray.push_back(key);
  }
  if (stray.empty()) return;
  std::string text = "keys outside the UNet (" + std::string(ckpt_prefix::unet) + "*), VAE (" +
                     ckpt_prefix::vae + "*) and text encoder (" + text_root + "*" +
                     (c.sdxl ? ", " + text_2_root + "*" : "") + ") (" + std::to_string(stray.size()) + "):";
  for (size_t i = 0; i < stray.size() && i < 40; ++i) text += "\n    " + stray[i];
  if (stray.size() > 40) text += "\n    ... and " + std::to_string(stray.size() - 40) + " more";
  problems.push_back(text);
}

void fail_all(const fs::path& file, const std::vector<std::string>& problems) {
  std::string text = "single-file checkpoint " + file.string() + ": cannot be loaded:";
  for (const auto& p : problems) text += "\n  " + p;
  throw sdk::Error(sdk::ErrorKind::model_error, text);
}

// The configs: from [model] config (a diffusers folder), or inferred from the shapes.
void read_configs(ModelFolder& m, const CheckpointFiles& c, const ModelOptions& options, bool v_prediction,
                  std::vector<std::string>& problems) {
  const ShapeMap shapes = shapes_of(*c.model);
  if (!options.config.empty()) {
    m.config_root = options.config;
    for (const char* sub : {"text_encoder", "unet"})
      if (!fs::is_regular_file(options.config / sub / "config.json"))
        throw sdk::Error(sdk::ErrorKind::model_error,
                         "[model] config: missing file " + (options.config / sub / "config.json").string());
    const fs::path te = options.config / "text_encoder" / "config.json",
                   unet = options.config / "unet" / "config.json";
    m.text_encoder = CLIPTextConfig::from_json(read_json_file(te), te.string());
    m.unet = UNetConfig::from_json(read_json_file(unet), unet.string());
    if (c.sdxl) {
      const fs::path te2 = options.config / "text_encoder_2" / "config.json";
      if (!fs::is_regular_file(te2))
        throw sdk::Error(sdk::ErrorKind::model_error, "[model] config: missing file " + te2.string() +
                                                          " (an SDXL checkpoint has two text encoders)");
      m.text_encoder_2 = CLIPTextConfig::from_json(read_json_file(te2), te2.string());
    }
    return;
  }
  m.text_encoder = infer_text_config(shapes, c.text_prefix, c.text, problems);
  if (!c.sdxl) {
    m.unet = infer_unet_config(shapes, ckpt_prefix::unet, c.text, v_prediction, problems);
    return;
  }
  m.text_encoder_2 = infer_sdxl_text_config_2(shapes, c.text_2_prefix, problems);
  m.unet = infer_sdxl_unet_config(shapes, ckpt_prefix::unet, m.text_encoder_2->projection_dim, problems);
}

void read_vae_config(ModelFolder& m, const CheckpointFiles& c, const ModelOptions& options,
                     std::vector<std::string>& problems) {
  const fs::path vae_config = options.config / "vae" / "config.json";
  if (!options.config.empty() && options.vae.empty() && fs::is_regular_file(vae_config)) {
    m.vae = VaeConfig::from_json(read_json_file(vae_config), vae_config.string());
    return;
  }
  // A folder's (or the default 0.18215; SDXL's VAE: 0.13025, as its diffusers config says).
  const double scaling = m.is_sdxl() && fs::is_regular_file(m.root) ? 0.13025 : m.vae.scaling_factor;
  if (c.vae && c.vae_diffusers_names) {
    problems.push_back(c.vae->path().string() +
                       ": a VAE in diffusers' names needs its config: give the "
                       "folder holding it and its config.json as [model] vae's folder instead");
    return;
  }
  m.vae = infer_vae_config(shapes_of(c.vae ? *c.vae : *c.model), c.vae_prefix, problems);
  m.vae.scaling_factor = scaling;
}

// Scheduler and tokenizer: [model] config's when it has them, else SD's standard ones.
void scheduler_and_tokenizer(ModelFolder& m, const CheckpointFiles& c, const ModelOptions& options) {
  const fs::path sched = options.config / "scheduler" / "scheduler_config.json";
  if (!options.config.empty() && fs::is_regular_file(sched)) {
    m.scheduler_config = read_json_file(sched);
    m.files_read.push_back(sched);
  } else {
    m.scheduler_config = nlohmann::json::parse(c.sdxl ? kSdxlSchedulerConfig : kStandardSchedulerConfig);
  }
  for (const auto& [sub, dir] :
       {std::pair{"tokenizer", &m.tokenizer_dir}, {"tokenizer_2", &m.tokenizer_2_dir}}) {
    const fs::path tok = options.config / sub;
    if (options.config.empty() || !fs::is_regular_file(tok / "vocab.json") ||
        (!c.sdxl && dir == &m.tokenizer_2_dir))
      continue;
    *dir = tok;
    for (const char* f : {"vocab.json", "merges.txt", "special_tokens_map.json", "tokenizer_config.json"})
      m.files_read.push_back(tok / f);
  }
  // diffusers' StableDiffusionXLPipeline default, unless the config folder's model_index.json says otherwise.
  if (c.sdxl) {
    m.force_zeros_for_empty_prompt = true;
    const fs::path index = options.config / "model_index.json";
    if (!options.config.empty() && fs::is_regular_file(index)) {
      const nlohmann::json j = read_json_file(index);
      if (j.contains("force_zeros_for_empty_prompt") && j["force_zeros_for_empty_prompt"].is_boolean())
        m.force_zeros_for_empty_prompt = j["force_zeros_for_empty_prompt"].get<bool>();
      m.files_read.push_back(index);
    }
  }
}

void apply_prediction_type(ModelFolder& m, const std::string& prediction_type, const std::string& where) {
  if (prediction_type.empty()) return;
  if (prediction_type != "epsilon" && prediction_type != "v_prediction")
    throw sdk::Error(sdk::ErrorKind::invalid_request, where + ": prediction_type \"" + prediction_type +
                                                          "\": expected \"epsilon\" or \"v_prediction\"");
  m.scheduler_config["prediction_type"] = prediction_type;
}

ModelFolder read_single_file(const fs::path& path, const ModelOptions& options) {
  auto c = std::make_shared<CheckpointFiles>();
  c->model = open_tensor_file(path);
  std::vector<std::string> problems;
  detect_layout(*c->model, *c, problems);
  if (problems.empty()) unclaimed_keys(*c->model, *c, problems);
  if (!options.vae.empty()) {
    c->vae = open_tensor_file(options.vae);
    detect_vae_layout(*c->vae, *c, problems);
  } else if (problems.empty() && !any_key_under(*c->model, std::string(ckpt_prefix::vae) + "encoder.")) {
    problems.push_back("no VAE: expected keys under first_stage_model.* (or give a separate VAE file)");
  } else {
    c->vae_prefix = ckpt_prefix::vae;
  }
  if (!problems.empty()) fail_all(path, problems);

  const bool yaml_v = sidecar_says_v_prediction(path);
  const std::string prediction = !options.prediction_type.empty() ? options.prediction_type
                                 : yaml_v                         ? "v_prediction"
                                                                  : "";
  ModelFolder m;
  m.root = path;
  m.files_read = {path};
  if (yaml_v) m.files_read.push_back(fs::path(path).replace_extension(".yaml"));
  if (!options.vae.empty()) m.files_read.push_back(options.vae);
  read_configs(m, *c, options, prediction == "v_prediction", problems);
  read_vae_config(m, *c, options, problems);
  if (!problems.empty()) fail_all(path, problems);
  if (c->text == TextEncoderKind::open_clip) c->open_clip_layers = m.text_encoder.num_hidden_layers;
  check_text_encoders_fit_unet(m);
  scheduler_and_tokenizer(m, *c, options);
  apply_prediction_type(m, prediction, "[model] prediction_type");
  check_scheduler_config(m.scheduler_config, path.string() + " (scheduler config)");
  m.checkpoint = c;
  return m;
}

}  // namespace

bool sidecar_says_v_prediction(const fs::path& checkpoint) {
  std::ifstream in(fs::path(checkpoint).replace_extension(".yaml"));
  static const std::regex v_line(R"(^\s*parameterization:\s*["']?v["']?\s*(#.*)?$)");
  std::string line;
  for (int n = 0; n < 10000 && std::getline(in, line); ++n)
    if (std::regex_match(line, v_line)) return true;
  return false;
}

ModelFolder read_model(const fs::path& path, const ModelOptions& options) {
  if (fs::is_regular_file(path)) return read_single_file(path, options);
  ModelFolder m = read_model_folder(path);
  if (!options.vae.empty()) {
    auto c = std::make_shared<CheckpointFiles>();
    c->vae = open_tensor_file(options.vae);
    std::vector<std::string> problems;
    detect_vae_layout(*c->vae, *c, problems);
    if (problems.empty()) read_vae_config(m, *c, ModelOptions{options.vae, {}, {}}, problems);
    if (!problems.empty()) fail_all(options.vae, problems);
    m.checkpoint = c;
  }
  apply_prediction_type(m, options.prediction_type, "[model] prediction_type");
  return m;
}

WeightSource weights_of(const ModelFolder& m, const std::string& component) {
  const CheckpointFiles* c = m.checkpoint.get();
  if (component == "vae" && c && c->vae) {
    if (c->vae_diffusers_names) return WeightSource(*c->vae);
    const VaeConfig cfg = m.vae;
    return WeightSource(
        *c->vae, c->vae_prefix, [cfg](const std::string& k) { return vae_stored_key(k, cfg); },
        [](const std::string& k) { return ignored_checkpoint_key(k, 0); });
  }
  if (!c || !c->model) {
    const fs::path& file = component == "unet"             ? m.unet_weights
                           : component == "vae"            ? m.vae_weights
                           : component == "text_encoder_2" ? m.text_encoder_2_weights
                                                           : m.text_encoder_weights;
    return WeightSource(open_tensor_file(file));
  }
  const auto ignored = [layers = c->open_clip_layers](const std::string& k) {
    return ignored_checkpoint_key(k, layers);
  };
  if (component == "unet") {
    const UNetConfig cfg = m.unet;
    return WeightSource(
        *c->model, ckpt_prefix::unet, [cfg](const std::string& k) { return unet_stored_key(k, cfg); },
        ignored);
  }
  if (component == "vae") {
    const VaeConfig cfg = m.vae;
    return WeightSource(
        *c->model, c->vae_prefix, [cfg](const std::string& k) { return vae_stored_key(k, cfg); }, ignored);
  }
  const auto optional_key = [](const std::string& k) { return k == "text_model.embeddings.position_ids"; };
  if (component == "text_encoder_2")
    return WeightSource(*c->model, c->text_2_prefix, open_clip_projection_stored_key, ignored, optional_key);
  if (c->text == TextEncoderKind::open_clip)
    return WeightSource(*c->model, c->text_prefix, open_clip_stored_key, ignored, optional_key);
  // Our names start with text_model.; the prefix holds it (or, in old files, there is none).
  return WeightSource(
      *c->model, c->text_prefix,
      [](const std::string& k) {
        StoredKey s = clip_stored_key(k);
        if (starts_with(s.key, "text_model.")) s.key = s.key.substr(11);
        return s;
      },
      ignored, optional_key);
}

}  // namespace ftdr::torchbe
