// backend/loaded_model.cpp: see loaded_model.h.
#include "pipeline/loaded_model.hpp"

#include "ftdr/sdk/error.hpp"
#include "io/model_size.hpp"
#include "io/safetensors.hpp"
#include "io/single_file.hpp"
#include "io/weights.hpp"
#include "nn/empty_weights.hpp"

namespace ftdr::torchbe {

std::uint64_t module_bytes(const torch::nn::Module& module) {
  std::uint64_t total = 0;
  for (const auto& p : module.parameters(/*recurse=*/true))
    total += static_cast<std::uint64_t>(p.numel()) * p.element_size();
  for (const auto& b : module.buffers(/*recurse=*/true))
    total += static_cast<std::uint64_t>(b.numel()) * b.element_size();
  return total;
}

torch::nn::Module& LoadedModel::component(const std::string& name) {
  return const_cast<torch::nn::Module&>(static_cast<const LoadedModel&>(*this).component(name));
}

std::vector<std::string> component_names(const ModelFolder& folder) {
  if (folder.is_sdxl()) return {"text_encoder", "text_encoder_2", "unet", "vae"};
  return {"text_encoder", "unet", "vae"};
}

std::vector<std::string> LoadedModel::component_names() const { return torchbe::component_names(folder); }

const torch::nn::Module& LoadedModel::component(const std::string& name) const {
  if (name == "text_encoder") return *text_encoder;
  if (name == "text_encoder_2" && text_encoder_2) return *text_encoder_2;
  if (name == "unet") return *unet;
  if (name == "vae") return *vae;
  std::string expected;
  for (const auto& n : component_names()) expected += (expected.empty() ? "\"" : ", \"") + n + "\"";
  throw sdk::Error(sdk::ErrorKind::invalid_request,
                   "component \"" + name + "\": expected one of " + expected);
}

at::Device LoadedModel::location(const std::string& name) const {
  const auto params = component(name).parameters();
  return params.empty() ? at::Device(at::kCPU) : params.front().device();
}

void LoadedModel::place(const std::string& name, const at::Device& device) { component(name).to(device); }

std::vector<sdk::ComponentInfo> LoadedModel::components() const {
  std::vector<sdk::ComponentInfo> out;
  for (const auto& name : component_names()) {
    sdk::ComponentInfo info;
    info.name = name;
    info.bytes = module_bytes(component(name));
    info.location = location(name).is_cuda() ? sdk::Device::cuda : sdk::Device::cpu;
    out.push_back(info);
  }
  return out;
}

void cast_floating(torch::nn::Module& module, at::ScalarType dtype) {
  at::NoGradGuard no_grad;
  for (auto& p : module.parameters(/*recurse=*/true))
    if (p.is_floating_point() && p.scalar_type() != dtype) p.set_data(p.to(dtype));
  for (auto& b : module.buffers(/*recurse=*/true))
    if (b.is_floating_point() && b.scalar_type() != dtype) b.set_data(b.to(dtype));
}

namespace {

// The tokenizer's ids and lengths index the text encoder's embeddings: checked at load, not when the
// first prompt runs past them.
void check_tokenizer_fits(const CLIPTokenizer& tokenizer, const CLIPTextConfig& text_encoder,
                          const std::filesystem::path& tokenizer_dir, const std::string& te_config) {
  if (tokenizer.max_length() > text_encoder.max_position_embeddings) {
    throw sdk::Error(sdk::ErrorKind::model_error,
                     (tokenizer_dir.empty() ? std::string("the built-in CLIP tokenizer")
                                            : (tokenizer_dir / "tokenizer_config.json").string()) +
                         ": key 'model_max_length': " + std::to_string(tokenizer.max_length()) +
                         " is more than the text encoder's " + "max_position_embeddings " +
                         std::to_string(text_encoder.max_position_embeddings) + " (" + te_config + ")");
  }
  if (tokenizer.max_id() >= text_encoder.vocab_size) {
    throw sdk::Error(sdk::ErrorKind::model_error,
                     (tokenizer_dir.empty() ? std::string("the built-in CLIP vocabulary")
                                            : (tokenizer_dir / "vocab.json").string()) +
                         ": token id " + std::to_string(tokenizer.max_id()) +
                         " is past the text encoder's vocab_size " + std::to_string(text_encoder.vocab_size) +
                         " (" + te_config + ")");
  }
}

// The component's weights in the model's files. The runtime's VAE is its decoder alone
// (VaeParts::decoder): the file's encoder and quant_conv are not read.
WeightSource weights_for(LoadedModel& m, const std::string& name) {
  WeightSource source = weights_of(m.folder, name);
  if (name == "vae" && !m.vae->encoder) return source.ignoring(kVaeEncoderKeys);
  return source;
}

// Every network's weights are checked before any is loaded, so a single file with problems in
// several networks gets one error listing them all.
void check_all_weights(LoadedModel& m) {
  std::string problems;
  for (const auto& name : m.component_names()) {
    const std::string p = check_module_weights(m.component(name), weights_for(m, name));
    if (!p.empty()) problems += "\n" + name + ": " + p;
  }
  if (!problems.empty())
    throw sdk::Error(sdk::ErrorKind::model_error, "model " + m.folder.root.string() + ":" + problems);
}

void load_weights(LoadedModel& m, const std::string& name, at::ScalarType dtype) {
  torch::nn::Module& net = m.component(name);
  cast_floating(net, dtype);
  load_module_weights(net, weights_for(m, name), dtype);
  net.eval();
}

CLIPTokenizer make_tokenizer(const ModelFolder& folder) {
  if (!folder.tokenizer_dir.empty()) return CLIPTokenizer::from_folder(folder.tokenizer_dir);
  return CLIPTokenizer::standard(folder.checkpoint && folder.checkpoint->text == TextEncoderKind::open_clip);
}

// SDXL's second tokenizer pads with "!" like OpenCLIP (stabilityai's tokenizer_2).
CLIPTokenizer make_tokenizer_2(const ModelFolder& folder) {
  if (!folder.tokenizer_2_dir.empty()) return CLIPTokenizer::from_folder(folder.tokenizer_2_dir);
  return CLIPTokenizer::standard(true);
}

}  // namespace

LoadedModel load_model(const std::filesystem::path& path, at::ScalarType dtype, const ModelOptions& options) {
  LoadedModel m;
  m.folder = read_model(path, options);
  m.dtype = dtype;
  m.tokenizer = make_tokenizer(m.folder);
  check_tokenizer_fits(m.tokenizer, m.folder.text_encoder, m.folder.tokenizer_dir,
                       m.folder.config_name("text_encoder"));
  if (m.folder.is_sdxl()) {
    m.tokenizer_2 = make_tokenizer_2(m.folder);
    check_tokenizer_fits(*m.tokenizer_2, *m.folder.text_encoder_2, m.folder.tokenizer_2_dir,
                         m.folder.config_name("text_encoder_2"));
  }
  check_model_size(m.folder, dtype);  // before any module allocates
  {
    // Built empty at the run's dtype: loading replaces every parameter, so peak memory grows by one
    // tensor at a time instead of starting from a float32 random init of the whole model.
    EmptyWeights empty(dtype);
    if (m.folder.is_sdxl()) m.text_encoder_2 = CLIPTextModelWithProjection(*m.folder.text_encoder_2);
    m.text_encoder = CLIPTextModel(m.folder.text_encoder);
    m.unet = UNet2DConditionModel(m.folder.unet);
    m.vae = AutoencoderKL(m.folder.vae, VaeParts::decoder);  // text-to-image never encodes
  }
  if (m.folder.checkpoint) check_all_weights(m);
  for (const auto& name : m.component_names()) load_weights(m, name, dtype);
  return m;
}

}  // namespace ftdr::torchbe
