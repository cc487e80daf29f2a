// lora/lora_scope.cpp: see lora_scope.hpp.
#include "lora/lora_scope.hpp"

#include <algorithm>
#include <filesystem>
#include <system_error>

#include "ftdr/sdk/error.hpp"

namespace ftdr::torchbe {
namespace {

namespace fs = std::filesystem;

constexpr const char* kField = "prompt";
constexpr const char* kExtension = ".safetensors";

[[noreturn]] void refuse(const LoraTag& tag, const std::string& what) {
  throw sdk::Error(sdk::ErrorKind::invalid_request, std::string(kField) + ": " + tag.tag + ": " + what);
}

// "a, b, c" of the folder's LoRA names, or why there are none.
std::string folder_listing(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return "lora_dir " + dir.string() + " is not a folder";
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir, ec))
    if (entry.path().extension() == kExtension) names.push_back(entry.path().stem().string());
  if (names.empty()) return dir.string() + " holds no " + kExtension + " files";
  std::sort(names.begin(), names.end());
  std::string out = dir.string() + " has: ";
  for (std::size_t i = 0; i < names.size() && i < 20; ++i) out += (i ? ", " : "") + names[i];
  if (names.size() > 20) out += ", ... (" + std::to_string(names.size()) + " in all)";
  return out;
}

std::set<std::string> stage_components(LoraStage stage) {
  if (stage == LoraStage::unet) return {"unet"};
  return {"text_encoder", "text_encoder_2"};
}

}  // namespace

sdk::GenerationRequest without_lora_tags(const sdk::GenerationRequest& request) {
  sdk::GenerationRequest out = request;
  out.prompt = extract_lora_tags(request.prompt, kField).text;
  return out;
}

std::vector<LoraUse> open_loras(const std::vector<LoraTag>& tags, const std::string& lora_dir) {
  std::vector<LoraUse> uses;
  for (const LoraTag& tag : tags) {
    if (lora_dir.empty()) refuse(tag, "no LoRA folder is configured (set [backend.libtorch] lora_dir)");
    const fs::path path = fs::path(lora_dir) / (tag.name + kExtension);
    std::error_code ec;
    if (!fs::is_regular_file(path, ec))
      refuse(tag, "no LoRA named \"" + tag.name + "\" (" + path.filename().string() + "); " +
                      folder_listing(lora_dir));
    LoraUse use;
    use.file = read_lora_file(path);
    use.te_scale = tag.te_scale;
    use.unet_scale = tag.unet_scale;
    uses.push_back(std::move(use));
  }
  return uses;
}

LoraComponents lora_components(const LoadedModel& model) {
  LoraComponents out{{"text_encoder", model.text_encoder.ptr().get()}, {"unet", model.unet.ptr().get()}};
  if (model.text_encoder_2) out.emplace("text_encoder_2", model.text_encoder_2.ptr().get());  // SDXL
  return out;
}

void check_loras(const std::string& prompt, const std::string& lora_dir, const LoadedModel& model) {
  const LoraTags tags = extract_lora_tags(prompt, kField);
  if (tags.loras.empty()) return;
  resolve_loras(open_loras(tags.loras, lora_dir), lora_components(model), {});
}

LoraScope::LoraScope(const std::string& prompt, const std::string& lora_dir, LoadedModel& model,
                     LoraStage stage) {
  const LoraTags tags = extract_lora_tags(prompt, kField);
  if (tags.loras.empty()) return;
  uses_ = open_loras(tags.loras, lora_dir);
  patch_.emplace(resolve_loras(uses_, lora_components(model), stage_components(stage)));
}

}  // namespace ftdr::torchbe
