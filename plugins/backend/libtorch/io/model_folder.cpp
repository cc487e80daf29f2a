// io/model_folder.cpp: resolve the files of a diffusers pipeline folder and read its configs.
#include "io/model_folder.hpp"

#include <fstream>
#include <sstream>

#include "ftdr/sdk/error.hpp"
#include "samplers/scheduler_config.hpp"

namespace ftdr::torchbe {
namespace {

namespace fs = std::filesystem;

[[noreturn]] void fail(const std::string& what) { throw sdk::Error(sdk::ErrorKind::model_error, what); }

fs::path require_dir(const fs::path& dir, const std::string& role) {
  if (!fs::is_directory(dir)) fail("model folder: missing " + role + " folder " + dir.string());
  return dir;
}

// The component a model_index.json entry names must be the class we implement.
void check_component_class(const nlohmann::json& index, const fs::path& file, const std::string& key,
                           const std::string& expected) {
  auto it = index.find(key);
  if (it == index.end()) return;  // folders without model_index entries still load by layout
  if (!it->is_array() || it->size() != 2 || !(*it)[1].is_string())
    fail(file.string() + ": key '" + key + "': expected [library, class name]");
  std::string cls = (*it)[1].get<std::string>();
  if (cls != expected)
    fail(file.string() + ": key '" + key + "': class '" + cls + "' is not supported, expected " + expected);
}

bool names_component(const nlohmann::json& index, const std::string& key) {
  auto it = index.find(key);
  return it != index.end() && it->is_array() && it->size() == 2 && !(*it)[1].is_null();
}

// text_encoder_2/, tokenizer_2/ and the SDXL pipeline flags.
void read_sdxl_parts(ModelFolder& m, const fs::path& index_file) {
  check_component_class(m.model_index, index_file, "text_encoder_2", "CLIPTextModelWithProjection");
  check_component_class(m.model_index, index_file, "tokenizer_2", "CLIPTokenizer");
  const fs::path te2 = require_dir(m.root / "text_encoder_2", "text_encoder_2");
  m.tokenizer_2_dir = require_dir(m.root / "tokenizer_2", "tokenizer_2");
  for (const char* f : {"vocab.json", "merges.txt"})
    if (!fs::is_regular_file(m.tokenizer_2_dir / f)) fail("missing file " + (m.tokenizer_2_dir / f).string());
  m.text_encoder_2 =
      CLIPTextConfig::from_json(read_json_file(te2 / "config.json"), (te2 / "config.json").string());
  m.text_encoder_2_weights = find_weights_file(te2);
  const auto flag = m.model_index.find("force_zeros_for_empty_prompt");
  if (flag != m.model_index.end() && !flag->is_boolean())
    fail(index_file.string() + ": key 'force_zeros_for_empty_prompt': expected true or false");
  m.force_zeros_for_empty_prompt = flag == m.model_index.end() || flag->get<bool>();
}

}  // namespace

void check_text_encoders_fit_unet(const ModelFolder& m) {
  const std::string unet_cfg = m.config_name("unet");
  int64_t width = m.text_encoder.hidden_size;
  std::string widths = "the text encoder's hidden_size " + std::to_string(width);
  if (m.text_encoder_2) {
    width += m.text_encoder_2->hidden_size;
    widths = "the two text encoders' hidden_size " + std::to_string(m.text_encoder.hidden_size) + " + " +
             std::to_string(m.text_encoder_2->hidden_size);
  }
  if (m.unet.cross_attention_dim != width)
    fail(unet_cfg + ": key 'cross_attention_dim': " + std::to_string(m.unet.cross_attention_dim) +
         " does not match " + widths + " (" + m.config_name("text_encoder") + ")");
  if (m.text_encoder_2 && !m.unet.has_text_time())
    fail(unet_cfg + ": key 'addition_embed_type': an SDXL model (with text_encoder_2) needs \"text_time\"");
  if (!m.text_encoder_2 && m.unet.has_text_time())
    fail(unet_cfg +
         ": key 'addition_embed_type': \"text_time\" needs a second text encoder (text_encoder_2)");
  if (m.text_encoder_2 && m.unet.pooled_text_dim() != m.text_encoder_2->projection_dim)
    fail(unet_cfg + ": key 'projection_class_embeddings_input_dim': " +
         std::to_string(m.unet.projection_class_embeddings_input_dim) +
         " is not 6 * addition_time_embed_dim " + std::to_string(m.unet.addition_time_embed_dim) +
         " + text_encoder_2's projection_dim " + std::to_string(m.text_encoder_2->projection_dim) + " (" +
         m.config_name("text_encoder_2") + ")");
}

std::string ModelFolder::config_name(const std::string& component) const {
  if (config_root.empty()) return root.string() + " (" + component + " config inferred from its shapes)";
  return (config_root / component / "config.json").string();
}

nlohmann::json read_json_file(const fs::path& path) {
  if (!fs::is_regular_file(path)) fail("missing file " + path.string());
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot read " + path.string());
  std::stringstream text;
  text << in.rdbuf();
  try {
    return nlohmann::json::parse(text.str());
  } catch (const nlohmann::json::exception& e) {
    fail(path.string() + ": not valid JSON: " + e.what());
  }
}

fs::path find_weights_file(const fs::path& component_dir) {
  for (const char* name : {"diffusion_pytorch_model.safetensors", "model.safetensors",
                           "diffusion_pytorch_model.fp16.safetensors", "model.fp16.safetensors"}) {
    fs::path p = component_dir / name;
    if (fs::is_regular_file(p)) return p;
  }
  fail(
      "no weights in " + component_dir.string() +
      ": expected diffusion_pytorch_model.safetensors or model.safetensors (or a .fp16.safetensors variant)");
}

ModelFolder read_model_folder(const fs::path& root) {
  if (!fs::is_directory(root)) fail("model folder " + root.string() + " does not exist or is not a folder");
  ModelFolder m;
  m.root = root;
  m.config_root = root;
  const fs::path index_file = root / "model_index.json";
  m.model_index = read_json_file(index_file);
  if (!m.model_index.is_object()) fail(index_file.string() + ": expected a JSON object");
  check_component_class(m.model_index, index_file, "text_encoder", "CLIPTextModel");
  check_component_class(m.model_index, index_file, "unet", "UNet2DConditionModel");
  check_component_class(m.model_index, index_file, "vae", "AutoencoderKL");
  check_component_class(m.model_index, index_file, "tokenizer", "CLIPTokenizer");

  const fs::path te = require_dir(root / "text_encoder", "text_encoder");
  const fs::path unet = require_dir(root / "unet", "unet");
  const fs::path vae = require_dir(root / "vae", "vae");
  m.tokenizer_dir = require_dir(root / "tokenizer", "tokenizer");
  for (const char* f : {"vocab.json", "merges.txt"})
    if (!fs::is_regular_file(m.tokenizer_dir / f)) fail("missing file " + (m.tokenizer_dir / f).string());

  m.text_encoder =
      CLIPTextConfig::from_json(read_json_file(te / "config.json"), (te / "config.json").string());
  m.unet = UNetConfig::from_json(read_json_file(unet / "config.json"), (unet / "config.json").string());
  m.vae = VaeConfig::from_json(read_json_file(vae / "config.json"), (vae / "config.json").string());
  m.scheduler_config = read_json_file(require_dir(root / "scheduler", "scheduler") / "scheduler_config.json");
  const std::string scheduler_file = (root / "scheduler" / "scheduler_config.json").string();
  if (!m.scheduler_config.is_object()) fail(scheduler_file + ": expected a JSON object");
  check_scheduler_config(m.scheduler_config, scheduler_file);

  if (names_component(m.model_index, "text_encoder_2")) read_sdxl_parts(m, index_file);
  check_text_encoders_fit_unet(m);
  if (m.unet.in_channels != m.vae.latent_channels)
    fail((unet / "config.json").string() + ": key 'in_channels': " + std::to_string(m.unet.in_channels) +
         " does not match the VAE's latent_channels " + std::to_string(m.vae.latent_channels));

  m.text_encoder_weights = find_weights_file(te);
  m.unet_weights = find_weights_file(unet);
  m.vae_weights = find_weights_file(vae);
  return m;
}

}  // namespace ftdr::torchbe
