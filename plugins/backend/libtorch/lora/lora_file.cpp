// lora/lora_file.cpp: see lora_file.hpp.
#include "lora/lora_file.hpp"

#include <cmath>
#include <map>
#include <set>

#include "ftdr/sdk/error.hpp"
#include "io/key_text.hpp"

namespace ftdr::torchbe {
namespace {

struct Prefix {
  const char* text;
  const char* component;
  bool kohya;         // module path with '_' for '.', suffixes .lora_down.weight etc.
  const char* needs;  // "SDXL": only a model with two text encoders has it
};

// Longer prefixes first where one starts another (text_encoder_2. before text_encoder.).
constexpr Prefix kPrefixes[] = {
    {"lora_unet_", "unet", true, ""},
    {"lora_te_", "text_encoder", true, ""},
    {"lora_te1_", "text_encoder", true, "SDXL"},
    {"lora_te2_", "text_encoder_2", true, "SDXL"},
    {"unet.", "unet", false, ""},
    {"text_encoder_2.", "text_encoder_2", false, "SDXL"},
    {"text_encoder.", "text_encoder", false, ""},
};

constexpr const char* kKohyaDown = ".lora_down.weight";
constexpr const char* kKohyaUp = ".lora_up.weight";
constexpr const char* kKohyaAlpha = ".alpha";
// diffusers' down / up suffixes, pairwise.
constexpr std::pair<const char*, const char*> kDiffusersSuffixes[] = {
    {".lora_A.weight", ".lora_B.weight"},
    {".lora.down.weight", ".lora.up.weight"},
    {".lora_linear_layer.down.weight", ".lora_linear_layer.up.weight"},
};

[[noreturn]] void refuse(const std::string& name, const std::string& what) {
  throw sdk::Error(sdk::ErrorKind::invalid_request, "LoRA " + name + ": " + what);
}

std::string first_few(const std::vector<std::string>& keys) {
  std::string out;
  for (std::size_t i = 0; i < keys.size() && i < 5; ++i) out += (i ? ", " : "") + keys[i];
  if (keys.size() > 5) out += ", ... (" + std::to_string(keys.size()) + " in all)";
  return out;
}

const Prefix* prefix_of(const std::string& key) {
  for (const Prefix& p : kPrefixes)
    if (starts_with(key, p.text)) return &p;
  return nullptr;
}

// One layer per down key; its up key (and kohya's alpha) are looked up next to it.
struct Found {
  LoraLayer layer;
  std::string alpha_key;
};

bool read_down_key(const std::string& key, Found& out) {
  const Prefix* p = prefix_of(key);
  if (p == nullptr) return false;
  out.layer.component = p->component;
  out.layer.prefix = p->text;
  out.layer.needs = p->needs;
  out.layer.underscored = p->kohya;
  const std::size_t plen = std::string(p->text).size();
  if (p->kohya) {
    if (!ends_with(key, kKohyaDown)) return false;
    const std::string base = key.substr(0, key.size() - std::string(kKohyaDown).size());
    if (base.find('.') != std::string::npos || base.size() <= plen) return false;
    out.layer.module = base.substr(plen);
    out.layer.down_key = key;
    out.layer.up_key = base + kKohyaUp;
    out.alpha_key = base + kKohyaAlpha;
    return true;
  }
  for (const auto& [down, up] : kDiffusersSuffixes) {
    if (!ends_with(key, down)) continue;
    const std::string base = key.substr(0, key.size() - std::string(down).size());
    if (base.size() <= plen) return false;
    out.layer.module = base.substr(plen);
    out.layer.down_key = key;
    out.layer.up_key = base + up;
    return true;
  }
  return false;
}

double read_alpha(const LoraFile& f, const std::string& key, int64_t rank) {
  const at::Tensor a = f.file.load(key, at::kDouble);
  if (a.numel() != 1 || !std::isfinite(a.item<double>()))
    refuse(f.name, key + ": expected one finite number (the layer's alpha)");
  return a.item<double>() / static_cast<double>(rank);
}

}  // namespace

LoraFile read_lora_file(const std::filesystem::path& path) {
  LoraFile f;
  f.name = path.filename().string();
  try {
    f.file = SafeTensorsFile::open(path);
  } catch (const sdk::Error& e) {  // truncated, bad header: the reader's words, under the LoRA's name
    refuse(f.name, std::string("not a readable safetensors file: ") + e.what());
  }
  std::set<std::string> used;
  for (const std::string& key : f.file.keys()) {
    Found found;
    if (!read_down_key(key, found)) continue;
    if (!f.file.contains(found.layer.up_key)) refuse(f.name, key + " has no matching " + found.layer.up_key);
    const int64_t rank = f.file.info(key).shape.empty() ? 0 : f.file.info(key).shape[0];
    if (rank <= 0) refuse(f.name, key + ": expected a tensor whose first dimension is the rank");
    if (!found.alpha_key.empty() && f.file.contains(found.alpha_key)) {
      found.layer.alpha_over_rank = read_alpha(f, found.alpha_key, rank);
      used.insert(found.alpha_key);
    }
    used.insert(key);
    used.insert(found.layer.up_key);
    f.layers.push_back(std::move(found.layer));
  }
  std::vector<std::string> unknown;
  for (const std::string& key : f.file.keys())
    if (used.count(key) == 0) unknown.push_back(key);
  if (!unknown.empty())
    refuse(f.name, std::to_string(unknown.size()) +
                       " keys are not LoRA layers this backend reads: " + first_few(unknown) +
                       " (expected kohya lora_unet_* / lora_te_* with .lora_down.weight, .lora_up.weight, "
                       ".alpha, or diffusers unet.* / text_encoder.* with .lora_A.weight, .lora_B.weight)");
  if (f.layers.empty()) refuse(f.name, "the file holds no LoRA layers");
  return f;
}

}  // namespace ftdr::torchbe
