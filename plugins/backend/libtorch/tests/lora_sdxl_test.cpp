// LoRA on the tiny SDXL pipeline (tests/data/tiny-sdxl): kohya files with lora_unet_*, lora_te1_*
// (text_encoder, CLIP ViT-L) and lora_te2_* (text_encoder_2, OpenCLIP bigG) keys and per-layer
// alphas, and PEFT files with unet.*, text_encoder.*, text_encoder_2.* keys; images against diffusers
// 0.31's StableDiffusionXLPipeline after load_lora_weights + fuse_lora (scripts/reference/lora.py
// wrote tests/data/lora), and every weight of the three networks exactly as loaded after a LoRA job,
// a failed one and a cancelled one. All data is committed: never skipped.
#include <gtest/gtest.h>

#include <algorithm>

#include "artifacts/conditioning.hpp"
#include "lora_test_support.hpp"
#include "sdxl_test_support.hpp"

namespace ftdr::test {
namespace {

using torchbe::TorchBackend;

const std::string kModel = "tiny-sdxl";

class LoraSdxl : public ::testing::Test {
 protected:
  void SetUp() override {
    backend_ = std::make_unique<TorchBackend>(lora_context(lora_data().string()));
    backend_->load((sdxl_data_dir() / kModel).string());
  }
  ReferenceRun run(const std::string& tags = "") const {
    ReferenceRun r = lora_run(sdxl_data_dir(), kModel);
    r.params.request.prompt += tags;
    return r;
  }
  std::unique_ptr<TorchBackend> backend_;
};

TEST_F(LoraSdxl, EveryCaseMatchesDiffusersFusedLora) {
  std::vector<std::string> checked;
  for (const auto& c : lora_cases(kModel)) {
    ReferenceRun r = run();
    r.params.request.prompt = with_tags(r.params.request.prompt, c.at("loras"));
    const auto images = lora_generate(*backend_, r.params);
    ASSERT_EQ(images.size(), 1u);
    EXPECT_LE(max_rgb8_diff(images[0], lora_case_image(kModel, c)), 1)
        << c.at("case") << ": " << r.params.request.prompt;
    checked.push_back(c.at("case").get<std::string>());
  }
  EXPECT_EQ(checked, (std::vector<std::string>{"none", "kohya-0.8", "peft-1", "kohya-0.8+peft-0.5"}));
}

// The pooled embedding comes from text_encoder_2 alone, and the conditioning's last 48 features
// from its penultimate layer: both change with a lora_te2_ LoRA, and the weights are back after.
TEST_F(LoraSdxl, SecondTextEncoderLayersApplyToItsOutputs) {
  const Snapshot loaded(backend_->loaded_model());
  auto encode = [&](const std::string& tags) {
    return std::static_pointer_cast<const torchbe::ConditioningArtifact>(backend_->encode(run(tags).params));
  };
  const auto plain = encode("");
  const auto kohya = encode(" <lora:tiny-sdxl-kohya:0.8>");
  EXPECT_EQ(loaded.changed(backend_->loaded_model()), std::vector<std::string>{});
  EXPECT_FALSE(at::allclose(plain->cond_pooled, kohya->cond_pooled));
  const int64_t width_1 = backend_->loaded_model().text_encoder->config().hidden_size;
  EXPECT_FALSE(at::allclose(plain->cond.narrow(-1, width_1, plain->cond.size(-1) - width_1),
                            kohya->cond.narrow(-1, width_1, kohya->cond.size(-1) - width_1)));
  EXPECT_FALSE(at::allclose(plain->cond.narrow(-1, 0, width_1), kohya->cond.narrow(-1, 0, width_1)));
}

TEST_F(LoraSdxl, WeightsAreExactlyTheLoadedOnesAfterAJobAFailureAndACancel) {
  const Snapshot loaded(backend_->loaded_model());
  const ReferenceRun r = run(" <lora:tiny-sdxl-kohya:0.8> <lora:tiny-sdxl-peft:0.5>");

  // While denoise runs, the UNet has the deltas and both text encoders are back as loaded.
  std::vector<std::string> during;
  backend_->set_fault_hook([&](const std::string& point) {
    if (point == "denoise.step.1") during = loaded.changed(backend_->loaded_model());
  });
  lora_generate(*backend_, r.params);
  EXPECT_EQ(loaded.changed(backend_->loaded_model()), std::vector<std::string>{});
  ASSERT_FALSE(during.empty());
  for (const auto& name : during) EXPECT_EQ(name.rfind("unet.", 0), 0u) << name;
  EXPECT_NE(std::find(during.begin(), during.end(),
                      "unet.down_blocks.1.attentions.0.transformer_blocks.1.attn2.to_k.weight"),
            during.end());

  backend_->set_fault_hook([](const std::string& point) {
    if (point == "denoise.step.2") C10_THROW_ERROR(Error, "CUDA error: injected by the test");
  });
  EXPECT_THROW(lora_generate(*backend_, r.params), sdk::Error);
  EXPECT_EQ(loaded.changed(backend_->loaded_model()), std::vector<std::string>{});
  backend_->set_fault_hook({});
  ThrowAtStep cancel(2);
  try {
    lora_generate(*backend_, r.params, &cancel);
    ADD_FAILURE() << "not cancelled";
  } catch (const sdk::Error& e) {
    EXPECT_EQ(e.kind(), sdk::ErrorKind::cancelled);
  }
  EXPECT_EQ(loaded.changed(backend_->loaded_model()), std::vector<std::string>{});

  // And the next job without LoRA gives diffusers' image without LoRA.
  const ReferenceRun plain = run();
  EXPECT_LE(max_rgb8_diff(lora_generate(*backend_, plain.params)[0], plain.image), 1);
}

}  // namespace
}  // namespace ftdr::test
