// lora/lora_patch.cpp: see lora_patch.hpp.
#include "lora/lora_patch.hpp"

#include "ftdr/sdk/error.hpp"

namespace ftdr::torchbe {
namespace {

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string out = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + std::to_string(shape[i]);
  return out + "]";
}

[[noreturn]] void refuse(const LoraFile& f, const std::string& what) {
  throw sdk::Error(sdk::ErrorKind::invalid_request, "LoRA " + f.name + ": " + what);
}

// One component's weights by module path, and by that path's underscore form (kohya's names).
struct ModuleIndex {
  std::map<std::string, std::pair<std::string, at::Tensor>> dotted;  // path -> (param name, weight)
  std::map<std::string, std::string> underscored;                    // form -> path; "" when shared

  explicit ModuleIndex(const torch::nn::Module& module) {
    for (const auto& item : module.named_parameters(/*recurse=*/true)) {
      const std::string& name = item.key();
      const std::string suffix = ".weight";
      if (name.size() <= suffix.size() ||
          name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
        continue;
      const std::string path = name.substr(0, name.size() - suffix.size());
      dotted[path] = {name, item.value()};
      std::string form = path;
      for (char& c : form)
        if (c == '.') c = '_';
      auto [it, fresh] = underscored.emplace(form, path);
      if (!fresh) it->second.clear();  // two paths, one form: neither can be told from a kohya name
    }
  }

  const std::pair<std::string, at::Tensor>* find(const LoraLayer& layer) const {
    std::string path = layer.module;
    if (layer.underscored) {
      auto it = underscored.find(layer.module);
      if (it == underscored.end() || it->second.empty()) return nullptr;
      path = it->second;
    }
    auto it = dotted.find(path);
    return it == dotted.end() ? nullptr : &it->second;
  }
};

std::string few(const std::vector<std::string>& keys) {
  std::string out;
  for (std::size_t i = 0; i < keys.size() && i < 5; ++i) out += (i ? ", " : "") + keys[i];
  return keys.size() > 5 ? out + ", ..." : out;
}

// up [out, r, 1...] x down [r, in, k...] must give the weight's [out, in, k...] elements.
void check_shapes(const LoraFile& f, const LoraLayer& layer, const std::string& weight_name,
                  const at::Tensor& weight) {
  const auto up = f.file.info(layer.up_key).shape;
  const auto down = f.file.info(layer.down_key).shape;
  int64_t up_cols = 1, down_cols = 1;
  for (std::size_t i = 1; i < up.size(); ++i) up_cols *= up[i];
  for (std::size_t i = 1; i < down.size(); ++i) down_cols *= down[i];
  const bool fits = up.size() >= 2 && down.size() >= 2 && up_cols == down[0] && up[0] == weight.size(0) &&
                    weight.numel() == up[0] * down_cols;
  if (!fits)
    refuse(f, layer.up_key + " " + shape_text(up) + " x " + layer.down_key + " " + shape_text(down) +
                  " does not fit the model's " + weight_name + " " + shape_text(weight.sizes().vec()) +
                  " (a LoRA for another model family?)");
}

void check_sdxl(const LoraUse& use, const LoraComponents& components) {
  for (const LoraLayer& layer : use.file.layers)
    if (!layer.needs.empty() && components.count("text_encoder_2") == 0)
      refuse(use.file,
             layer.prefix + "* layers are for SDXL's two text encoders; this model has one text encoder");
}

}  // namespace

std::vector<LoraTarget> resolve_loras(const std::vector<LoraUse>& uses, const LoraComponents& components,
                                      const std::set<std::string>& apply_to) {
  std::map<std::string, ModuleIndex> indexes;
  for (const auto& [name, module] : components) indexes.emplace(name, ModuleIndex(*module));
  std::map<std::string, LoraTarget> targets;  // by name: stacked LoRAs add terms to one target
  std::vector<std::string> order;
  for (const LoraUse& use : uses) {
    check_sdxl(use, components);
    std::vector<std::string> unmatched;
    for (const LoraLayer& layer : use.file.layers) {
      auto index = indexes.find(layer.component);
      const auto* found = index == indexes.end() ? nullptr : index->second.find(layer);
      if (found == nullptr) {
        unmatched.push_back(layer.prefix + layer.module);
        continue;
      }
      const std::string name = layer.component + "." + found->first;
      check_shapes(use.file, layer, name, found->second);
      if (apply_to.count(layer.component) == 0) continue;
      auto [it, fresh] = targets.emplace(name, LoraTarget{name, found->second, {}});
      if (fresh) order.push_back(name);
      const double scale = layer.component == "unet" ? use.unet_scale : use.te_scale;
      it->second.terms.push_back({&use.file, &layer, layer.alpha_over_rank * scale});
    }
    if (unmatched.size() == use.file.layers.size())
      refuse(use.file, "none of its " + std::to_string(unmatched.size()) +
                           " layers matches a module of the model: " + few(unmatched) +
                           " (a LoRA for another model?)");
    if (!unmatched.empty())
      refuse(use.file, std::to_string(unmatched.size()) + " of its " +
                           std::to_string(use.file.layers.size()) +
                           " layers match no module of the model: " + few(unmatched));
  }
  std::vector<LoraTarget> out;
  for (const std::string& name : order) out.push_back(std::move(targets.at(name)));
  return out;
}

namespace {

// W + sum(scale * up @ down) in float32, cast once to W's dtype; a new tensor, W untouched.
at::Tensor patched_weight(const LoraTarget& t) {
  at::Tensor acc = t.weight.detach().to(at::kFloat, /*non_blocking=*/false, /*copy=*/true);
  for (const LoraTerm& term : t.terms) {
    const at::Tensor up = term.file->file.load(term.layer->up_key, at::kFloat).to(acc.device());
    const at::Tensor down = term.file->file.load(term.layer->down_key, at::kFloat).to(acc.device());
    acc += (up.flatten(1).mm(down.flatten(1)) * term.scale).view(acc.sizes());
  }
  return acc.to(t.weight.scalar_type());
}

}  // namespace

LoraPatch::LoraPatch(const std::vector<LoraTarget>& targets) {
  at::NoGradGuard no_grad;
  std::vector<at::Tensor> patched;  // all computed before any weight changes: a failure changes nothing
  patched.reserve(targets.size());
  for (const LoraTarget& t : targets) patched.push_back(patched_weight(t));
  swapped_.reserve(targets.size());
  try {
    for (std::size_t i = 0; i < targets.size(); ++i) {
      at::Tensor param = targets[i].weight;
      swapped_.emplace_back(param, param.detach());
      param.set_data(patched[i]);
    }
  } catch (...) {
    restore();
    throw;
  }
}

LoraPatch::~LoraPatch() { restore(); }

void LoraPatch::restore() noexcept {
  at::NoGradGuard no_grad;
  for (auto it = swapped_.rbegin(); it != swapped_.rend(); ++it) it->first.set_data(it->second);
  swapped_.clear();
}

}  // namespace ftdr::torchbe
