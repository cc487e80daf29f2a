// LoRA end to end on the tiny reference models: images against diffusers 0.31 (load_lora_weights +
// fuse_lora; scripts/reference/lora.py wrote tests/data/lora), and the weights exactly as loaded
// after a LoRA job, a failed one and a cancelled one.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>

#include <nlohmann/json.hpp>

#include "adapter/torch_backend.hpp"
#include "backend_test_support.hpp"
#include "common/reference.hpp"
#include "io/safetensors.hpp"

namespace ftdr::test {
namespace {

using torchbe::TorchBackend;

std::filesystem::path lora_data() {
  return std::filesystem::path(FTDR_SOURCE_DIR) / "plugins/backend/libtorch/tests/data/lora";
}

sdk::PluginContext lora_context(const std::string& lora_dir) {
  return context_with(std::make_shared<MapConfig>(std::map<std::string, MapConfig::Value>{
      {"device", std::string("cpu")}, {"attention", std::string("naive")}, {"lora_dir", lora_dir}}));
}

std::vector<sdk::Image> generate(sdk::ModelBackend& backend, const sdk::GenerationParams& params,
                                 sdk::StepObserver* observer = nullptr) {
  backend.validate(params);
  auto cond = backend.encode(params);
  RecordingObserver recording;
  auto latents = backend.denoise(params, *cond, nullptr, observer ? *observer : recording);
  return backend.decode(params, *latents, nullptr);
}

// The reference run the LoRA images were made with (cases.json "run"), with the Euler sampler.
ReferenceRun lora_run(const std::filesystem::path& root, const std::string& model) {
  ReferenceRun run = reference_run(root, model, "pipe.euler.s4");
  run.params.request.sampler = "euler";
  return run;
}

std::string with_tags(std::string prompt, const nlohmann::json& loras) {
  for (const auto& l : loras)
    prompt +=
        " <lora:" + l.at("name").get<std::string>() + ":" + std::to_string(l.at("scale").get<double>()) + ">";
  return prompt;
}

TEST(LoraImages, EveryCaseMatchesDiffusersFusedLora) {
  FTDR_REQUIRE_REFERENCE(root);
  std::ifstream in(lora_data() / "cases.json");
  const auto cases = nlohmann::json::parse(in).at("cases");
  std::map<std::string, std::unique_ptr<TorchBackend>> backends;
  int checked = 0;
  for (const auto& c : cases) {
    const std::string model = c.at("model").get<std::string>();
    auto& backend = backends[model];
    if (!backend) {
      backend = std::make_unique<TorchBackend>(lora_context(lora_data().string()));
      backend->load((root / model).string());
    }
    ReferenceRun run = lora_run(root, model);
    run.params.request.prompt = with_tags(run.params.request.prompt, c.at("loras"));
    const at::Tensor u8 = torchbe::SafeTensorsFile::open(lora_data() / (model + "-images.safetensors"))
                              .load(c.at("image").get<std::string>());
    run.image = u8.to(at::kFloat) / 255.0;
    const auto images = generate(*backend, run.params);
    ASSERT_EQ(images.size(), 1u);
    EXPECT_LE(max_rgb8_diff(images[0], run.image), 1)
        << model << " " << c.at("case") << ": " << run.params.request.prompt;
    ++checked;
  }
  EXPECT_EQ(checked, 10);
}

// Every parameter of the text encoder and UNet: a copy of its values and where its data lives.
struct Snapshot {
  std::map<std::string, std::pair<at::Tensor, const void*>> params;

  explicit Snapshot(const torchbe::LoadedModel& m) {
    for (const auto* component : {static_cast<const torch::nn::Module*>(m.text_encoder.get()),
                                  static_cast<const torch::nn::Module*>(m.unet.get())}) {
      const std::string prefix = component == m.unet.get() ? "unet." : "text_encoder.";
      for (const auto& p : component->named_parameters())
        params[prefix + p.key()] = {p.value().detach().clone(), p.value().data_ptr()};
    }
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
};

class ThrowAtStep final : public sdk::StepObserver {
 public:
  explicit ThrowAtStep(int step) : step_(step) {}
  void on_step(const sdk::StepEvent& e) override {
    if (e.step == step_) throw sdk::Error(sdk::ErrorKind::cancelled, "cancelled by the test");
  }

 private:
  int step_;
};

TEST(LoraWeights, AreExactlyTheLoadedOnesAfterAJobAFailureAndACancel) {
  FTDR_REQUIRE_REFERENCE(root);
  TorchBackend backend(lora_context(lora_data().string()));
  backend.load((root / "tiny-sd1").string());
  const Snapshot loaded(backend.loaded_model());
  ReferenceRun run = lora_run(root, "tiny-sd1");
  run.params.request.prompt += " <lora:tiny-sd1-kohya:0.8> <lora:tiny-sd1-peft:0.5>";

  // While denoise runs, the UNet has the deltas and the text encoder is back as loaded.
  std::vector<std::string> during;
  backend.set_fault_hook([&](const std::string& point) {
    if (point == "denoise.step.1") during = loaded.changed(backend.loaded_model());
  });
  generate(backend, run.params);
  EXPECT_EQ(loaded.changed(backend.loaded_model()), std::vector<std::string>{});
  ASSERT_FALSE(during.empty());
  for (const auto& name : during) EXPECT_EQ(name.rfind("unet.", 0), 0u) << name;
  EXPECT_NE(std::find(during.begin(), during.end(), "unet.down_blocks.0.resnets.0.conv1.weight"),
            during.end());

  // A failure in the middle of denoise (an injected CUDA error), then a cancel at step 2.
  backend.set_fault_hook([](const std::string& point) {
    if (point == "denoise.step.2") C10_THROW_ERROR(Error, "CUDA error: injected by the test");
  });
  EXPECT_THROW(generate(backend, run.params), sdk::Error);
  EXPECT_EQ(loaded.changed(backend.loaded_model()), std::vector<std::string>{});
  backend.set_fault_hook({});
  ThrowAtStep cancel(2);
  try {
    generate(backend, run.params, &cancel);
    ADD_FAILURE() << "not cancelled";
  } catch (const sdk::Error& e) {
    EXPECT_EQ(e.kind(), sdk::ErrorKind::cancelled);
  }
  EXPECT_EQ(loaded.changed(backend.loaded_model()), std::vector<std::string>{});

  // And the next job without LoRA gives diffusers' image without LoRA.
  ReferenceRun plain = lora_run(root, "tiny-sd1");
  const auto images = generate(backend, plain.params);
  EXPECT_LE(max_rgb8_diff(images[0], plain.image), 1);
}

// In bf16 (f16 has no CPU kernels) the patched weight is the float32 sum cast once, and the bf16
// weights come back bit for bit.
TEST(LoraWeights, Bf16PatchIsTheFloat32SumCastOnce) {
  FTDR_REQUIRE_REFERENCE(root);
  TorchBackend backend(context_with(std::make_shared<MapConfig>(
      std::map<std::string, MapConfig::Value>{{"device", std::string("cpu")},
                                              {"attention", std::string("naive")},
                                              {"dtype", std::string("bf16")},
                                              {"lora_dir", lora_data().string()}})));
  backend.load((root / "tiny-sd1").string());
  const Snapshot loaded(backend.loaded_model());
  const std::string module = "down_blocks.0.resnets.0.conv1";
  const at::Tensor w = loaded.params.at("unet." + module + ".weight").first;
  ASSERT_EQ(w.scalar_type(), at::kBFloat16);
  const auto lora = torchbe::SafeTensorsFile::open(lora_data() / "tiny-sd1-kohya.safetensors");
  const std::string key = "lora_unet_down_blocks_0_resnets_0_conv1";
  const at::Tensor up = lora.load(key + ".lora_up.weight", at::kFloat);
  const at::Tensor down = lora.load(key + ".lora_down.weight", at::kFloat);
  const double scale = lora.load(key + ".alpha", at::kDouble).item<double>() / down.size(0) * 0.8;
  const at::Tensor expected =
      (w.to(at::kFloat) + (up.flatten(1).mm(down.flatten(1)) * scale).view(w.sizes())).to(at::kBFloat16);
  bool checked = false;
  backend.set_fault_hook([&](const std::string& point) {
    if (point != "denoise.step.0") return;
    for (const auto& p : backend.loaded_model().unet->named_parameters())
      if (p.key() == module + ".weight") {
        EXPECT_TRUE(at::equal(p.value(), expected));
        checked = true;
      }
  });
  ReferenceRun run = lora_run(root, "tiny-sd1");
  run.params.request.steps = 2;
  run.params.options.dtype = sdk::DType::bf16;  // as the host starts it (ModelInfo::dtype): no f32 upcast
  run.params.request.prompt += " <lora:tiny-sd1-kohya:0.8>";
  generate(backend, run.params);
  EXPECT_TRUE(checked);
  EXPECT_EQ(loaded.changed(backend.loaded_model()), std::vector<std::string>{});
}

}  // namespace
}  // namespace ftdr::test
