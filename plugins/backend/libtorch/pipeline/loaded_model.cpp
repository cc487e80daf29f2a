// backend/loaded_model.cpp: see loaded_model.h.
#include "pipeline/loaded_model.hpp"

#include "ftdr/sdk/error.hpp"
#include "io/model_size.hpp"
#include "io/safetensors.hpp"
#include "io/weights.hpp"

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

const torch::nn::Module& LoadedModel::component(const std::string& name) const {
  if (name == "text_encoder") return *text_encoder;
  if (name == "unet") return *unet;
  if (name == "vae") return *vae;
  throw sdk::Error(sdk::ErrorKind::invalid_request,
                   "component \"" + name + "\": expected \"text_encoder\", \"unet\" or \"vae\"");
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
void check_tokenizer_fits(const CLIPTokenizer& tokenizer, const ModelFolder& folder) {
  const std::string te_config = (folder.root / "text_encoder" / "config.json").string();
  if (tokenizer.max_length() > folder.text_encoder.max_position_embeddings) {
    throw sdk::Error(sdk::ErrorKind::model_error,
                     (folder.tokenizer_dir / "tokenizer_config.json").string() +
                         ": key 'model_max_length': " + std::to_string(tokenizer.max_length()) +
                         " is more than the text encoder's " + "max_position_embeddings " +
                         std::to_string(folder.text_encoder.max_position_embeddings) + " (" + te_config +
                         ")");
  }
  if (tokenizer.max_id() >= folder.text_encoder.vocab_size) {
    throw sdk::Error(sdk::ErrorKind::model_error,
                     (folder.tokenizer_dir / "vocab.json").string() + ": token id " +
                         std::to_string(tokenizer.max_id()) + " is past the text encoder's vocab_size " +
                         std::to_string(folder.text_encoder.vocab_size) + " (" + te_config + ")");
  }
}

template <class Net>
void load_weights(Net& net, const std::filesystem::path& file, at::ScalarType dtype) {
  cast_floating(*net, dtype);
  load_module_weights(*net, SafeTensorsFile::open(file), dtype);
  net->eval();
}

}  // namespace

LoadedModel load_model(const std::filesystem::path& dir, at::ScalarType dtype) {
  LoadedModel m;
  m.folder = read_model_folder(dir);
  m.dtype = dtype;
  m.tokenizer = CLIPTokenizer::from_folder(m.folder.tokenizer_dir);
  check_tokenizer_fits(m.tokenizer, m.folder);
  check_model_size(m.folder, dtype);  // before any module allocates
  m.text_encoder = CLIPTextModel(m.folder.text_encoder);
  m.unet = UNet2DConditionModel(m.folder.unet);
  m.vae = AutoencoderKL(m.folder.vae);
  load_weights(m.text_encoder, m.folder.text_encoder_weights, dtype);
  load_weights(m.unet, m.folder.unet_weights, dtype);
  load_weights(m.vae, m.folder.vae_weights, dtype);
  return m;
}

}  // namespace ftdr::torchbe
