// LoRA end to end on the tiny SD 1.x / 2.x reference models: images against diffusers 0.31 (load_lora_weights
// + fuse_lora; scripts/reference/lora.py wrote tests/data/lora), and the weights exactly as loaded after a
// LoRA job, a failed one and a cancelled one.
#include <gtest/gtest.h>

#include <algorithm>

#include "common/reference.hpp"
#include "lora_test_support.hpp"

namespace ftdr::test {
namespace {

using torchbe::TorchBackend;

// SD 1.x and 2.x (the shared reference models); SDXL's cases: lora_sdxl_test.cpp.
TEST(LoraImages, EveryCaseMatchesDiffusersFusedLora) {
  FTDR_REQUIRE_REFERENCE(root);
  int checked = 0;
  for (const std::string model : {"tiny-sd1", "tiny-sd2v"}) {
    TorchBackend backend(lora_context(lora_data().string()));
    backend.load((root / model).string());
    for (const auto& c : lora_cases(model)) {
      ReferenceRun run = lora_run(root, model);
      run.params.request.prompt = with_tags(run.params.request.prompt, c.at("loras"));
      run.image = lora_case_image(model, c);
      const auto images = lora_generate(backend, run.params);
      ASSERT_EQ(images.size(), 1u);
      EXPECT_LE(max_rgb8_diff(images[0], run.image), 1)
          << model << " " << c.at("case") << ": " << run.params.request.prompt;
      ++checked;
    }
  }
  EXPECT_EQ(checked, 10);
}

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
  lora_generate(backend, run.params);
  EXPECT_EQ(loaded.changed(backend.loaded_model()), std::vector<std::string>{});
  ASSERT_FALSE(during.empty());
  for (const auto& name : during) EXPECT_EQ(name.rfind("unet.", 0), 0u) << name;
  EXPECT_NE(std::find(during.begin(), during.end(), "unet.down_blocks.0.resnets.0.conv1.weight"),
            during.end());

  // A failure in the middle of denoise (an injected CUDA error), then a cancel at step 2.
  backend.set_fault_hook([](const std::string& point) {
    if (point == "denoise.step.2") C10_THROW_ERROR(Error, "CUDA error: injected by the test");
  });
  EXPECT_THROW(lora_generate(backend, run.params), sdk::Error);
  EXPECT_EQ(loaded.changed(backend.loaded_model()), std::vector<std::string>{});
  backend.set_fault_hook({});
  ThrowAtStep cancel(2);
  try {
    lora_generate(backend, run.params, &cancel);
    ADD_FAILURE() << "not cancelled";
  } catch (const sdk::Error& e) {
    EXPECT_EQ(e.kind(), sdk::ErrorKind::cancelled);
  }
  EXPECT_EQ(loaded.changed(backend.loaded_model()), std::vector<std::string>{});

  // And the next job without LoRA gives diffusers' image without LoRA.
  ReferenceRun plain = lora_run(root, "tiny-sd1");
  const auto images = lora_generate(backend, plain.params);
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
  lora_generate(backend, run.params);
  EXPECT_TRUE(checked);
  EXPECT_EQ(loaded.changed(backend.loaded_model()), std::vector<std::string>{});
}

}  // namespace
}  // namespace ftdr::test
