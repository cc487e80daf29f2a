// lora_test_support.hpp: what the LoRA image and weight tests share: the data scripts/reference/lora.py
// wrote (tests/data/lora), a CPU backend reading LoRAs from it, one whole run, and a snapshot of every
// parameter a LoRA may touch (values and where their data lives), to prove they come back as loaded.
#pragma once
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "adapter/torch_backend.hpp"
#include "backend_test_support.hpp"
#include "io/safetensors.hpp"
#include "pipeline/loaded_model.hpp"

namespace ftdr::test {

inline std::filesystem::path lora_data() {
  return std::filesystem::path(FTDR_SOURCE_DIR) / "plugins/backend/libtorch/tests/data/lora";
}

inline sdk::PluginContext lora_context(const std::string& lora_dir) {
  return context_with(std::make_shared<MapConfig>(std::map<std::string, MapConfig::Value>{
      {"device", std::string("cpu")}, {"attention", std::string("naive")}, {"lora_dir", lora_dir}}));
}

inline std::vector<sdk::Image> lora_generate(sdk::ModelBackend& backend, const sdk::GenerationParams& params,
                                             sdk::StepObserver* observer = nullptr) {
  backend.validate(params);
  auto cond = backend.encode(params);
  RecordingObserver recording;
  auto latents = backend.denoise(params, *cond, nullptr, observer ? *observer : recording);
  return backend.decode(params, *latents, nullptr);
}

// The reference run the LoRA images were made with (cases.json "run"), with the Euler sampler.
inline ReferenceRun lora_run(const std::filesystem::path& root, const std::string& model) {
  ReferenceRun run = reference_run(root, model, "pipe.euler.s4");
  run.params.request.sampler = "euler";
  return run;
}

// A case's LoRAs (cases.json "loras") as A1111 tags after the prompt.
inline std::string with_tags(std::string prompt, const nlohmann::json& loras) {
  for (const auto& l : loras)
    prompt +=
        " <lora:" + l.at("name").get<std::string>() + ":" + std::to_string(l.at("scale").get<double>()) + ">";
  return prompt;
}

// cases.json's cases of one model.
inline std::vector<nlohmann::json> lora_cases(const std::string& model) {
  std::ifstream in(lora_data() / "cases.json");
  const nlohmann::json all = nlohmann::json::parse(in);
  std::vector<nlohmann::json> out;
  for (const auto& c : all.at("cases"))
    if (c.at("model") == model) out.push_back(c);
  return out;
}

// The case's image diffusers made (U8 [1, H, W, 3]) as floats in [0, 1], as reference runs hold them.
inline at::Tensor lora_case_image(const std::string& model, const nlohmann::json& c) {
  const at::Tensor u8 = torchbe::SafeTensorsFile::open(lora_data() / (model + "-images.safetensors"))
                            .load(c.at("image").get<std::string>());
  return u8.to(at::kFloat) / 255.0;
}

// Every parameter of the text encoder(s) and UNet: a copy of its values and where its data lives.
struct Snapshot {
  std::map<std::string, std::pair<at::Tensor, const void*>> params;

  explicit Snapshot(const torchbe::LoadedModel& m) {
    add("text_encoder.", *m.text_encoder);
    if (m.text_encoder_2) add("text_encoder_2.", *m.text_encoder_2);
    add("unet.", *m.unet);
  }

  // Names of the parameters that differ from the snapshot (values, or not the same data).
  std::vector<std::string> changed(const torchbe::LoadedModel& m) const {
    const Snapshot now(m);
    std::vector<std::string> out;
    for (const auto& [name, value] : params) {
      const auto& [tensor, data] = now.params.at(name);
      if (!at::equal(tensor, value.first) || data != value.second) out.push_back(name);
    }
    return out;
  }

 private:
  void add(const std::string& prefix, const torch::nn::Module& component) {
    for (const auto& p : component.named_parameters())
      params[prefix + p.key()] = {p.value().detach().clone(), p.value().data_ptr()};
  }
};

// Stops the job (as a cancel does) when step `step` is reported.
class ThrowAtStep final : public sdk::StepObserver {
 public:
  explicit ThrowAtStep(int step) : step_(step) {}
  void on_step(const sdk::StepEvent& e) override {
    if (e.step == step_) throw sdk::Error(sdk::ErrorKind::cancelled, "cancelled by the test");
  }

 private:
  int step_;
};

}  // namespace ftdr::test
