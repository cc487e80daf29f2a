// The whole SDXL base pipeline against diffusers 0.31's StableDiffusionXLPipeline on the tiny SDXL
// model (tests/data/tiny-sdxl): both text encoders, force_zeros_for_empty_prompt, add_time_ids, the
// UNet with guidance, Euler / Euler a / DPM++ 2M Karras from SDXL's scheduler config, VAE decode with
// SDXL's scaling factor; then through the backend itself (TorchBackend: encode, denoise, decode, the
// 8-bit pixels) and the model facts the host reads (family, components, default size).
#include <gtest/gtest.h>

#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <iostream>

#include "adapter/torch_backend.hpp"
#include "artifacts/conditioning.hpp"
#include "backend_test_support.hpp"
#include "pipeline/denoise_loop.hpp"
#include "pipeline/image_convert.hpp"
#include "pipeline/seeds.hpp"
#include "samplers/sampler.hpp"
#include "sdxl_test_support.hpp"

namespace ftdr::test {
namespace {

using namespace torchbe;

constexpr double kImageTolerance = 1.0 / 255.0;

sdk::GenerationParams params_of(const nlohmann::json& r) {
  sdk::GenerationParams p;
  p.request.prompt = r["prompt"].get<std::string>();
  p.request.negative_prompt = r["negative_prompt"].is_null() ? "" : r["negative_prompt"].get<std::string>();
  p.request.cfg_scale = r["guidance_scale"].get<double>();
  p.request.steps = r["num_inference_steps"].get<int>();
  p.request.width = p.width = r["width"].get<int>();
  p.request.height = p.height = r["height"].get<int>();
  p.request.seed = r["latent_seed"].get<std::uint64_t>();
  return p;
}

class SdxlPipeline : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    at::set_num_threads(2);
    tiny_sdxl();
  }
  TinySdxl& m = tiny_sdxl();
};

// Every run from its recorded initial latents; Euler a's noise from the run's generator seed.
TEST_F(SdxlPipeline, EveryRunMatchesDiffusersWithinOneLevel) {
  c10::InferenceMode inference;
  int runs = 0;
  for (auto it = m.ref.ref["runs"].begin(); it != m.ref.ref["runs"].end(); ++it) {
    const std::string run = it.key();
    SCOPED_TRACE(run);
    const auto& r = it.value();
    auto sampler =
        make_sampler(sampler_of(run), m.ref.scheduler_config_for(r["scheduler_overrides_on_pipe_config"]),
                     r["eta"].get<double>());
    sampler->set_timesteps(r["num_inference_steps"].get<int>());
    EXPECT_EQ(sampler->timesteps(), r["timesteps"].get<std::vector<double>>());
    EXPECT_NEAR(sampler->init_noise_sigma(), r["init_noise_sigma"].get<double>(), 1e-6);
    const sdk::GenerationParams p = params_of(r);
    const auto c =
        encode_prompts_sdxl(m.encoders(), p, PromptSettings{}, m.model.folder.force_zeros_for_empty_prompt);
    if (r["negative_prompt"].is_null()) {  // force_zeros_for_empty_prompt
      EXPECT_EQ(c->uncond.abs().max().item<float>(), 0.0f);
      EXPECT_EQ(c->uncond_pooled.abs().max().item<float>(), 0.0f);
    }
    const PooledConditioning pooled{c->cond_pooled, c->uncond_pooled, sdxl_time_ids(p.height, p.width)};
    NoiseSource noise(r["generator_seed"].get<uint64_t>(), 0, 1);
    const at::Tensor latents =
        denoise(m.model.unet, *sampler, c->cond, c->uncond, m.ref.tensor(run + ".latents_init"),
                p.request.cfg_scale, 0, noise, nullptr, pooled);
    const at::Tensor ref_latents = m.ref.tensor(run + ".latents_final");
    const double rel = rel_diff(latents, ref_latents);
    EXPECT_LE(rel, 1e-3) << "final latents, max |ref| " << max_abs(ref_latents);
    const at::Tensor image =
        decoded_to_unit(m.model.vae->decode(latents / m.model.folder.vae.scaling_factor));
    const double img = max_abs_diff(image, m.ref.tensor(run + ".image"));
    EXPECT_LE(img, kImageTolerance);
    std::cout << "[ measured ] " << run << ": final latents rel diff " << rel << ", image max abs diff "
              << img << "\n";
    ++runs;
  }
  EXPECT_EQ(runs, 4);
}

// The time ids are (h, w, 0, 0, h, w): a 64x96 run conditioned on 96x64 differs.
TEST_F(SdxlPipeline, TimeIdsAreHeightThenWidth) {
  EXPECT_TRUE(
      at::equal(sdxl_time_ids(64, 96), at::tensor({64.0f, 96.0f, 0.0f, 0.0f, 64.0f, 96.0f}).unsqueeze(0)));
}

struct BackendRun {
  sdk::GenerationParams params;
  at::Tensor image;
};

BackendRun backend_run(TinySdxl& m, const std::string& run, const std::string& sampler) {
  BackendRun out{params_of(m.ref.ref["runs"][run]), m.ref.tensor(run + ".image")};
  out.params.request.sampler = sampler;
  return out;
}

// encode -> denoise -> decode through TorchBackend, from the seed alone (the recorded initial
// latents are the first draw of the latent seed), to 8-bit pixels: within one level of diffusers'.
TEST_F(SdxlPipeline, BackendImagesMatchDiffusersWithinOneLevel) {
  TorchBackend backend(cpu_context());
  backend.load((sdxl_data_dir() / "tiny-sdxl").string());
  for (const auto& [run, sampler] : {std::pair{"pipe.euler.s4", "default"},
                                     {"pipe.dpmpp_2m_karras.s4", "dpmpp_2m_karras"},
                                     {"pipe.euler.s4.noneg.h64w96", "euler"}}) {
    SCOPED_TRACE(run);
    const BackendRun r = backend_run(m, run, sampler);
    backend.validate(r.params);
    auto cond = backend.encode(r.params);
    RecordingObserver observer;
    auto latents = backend.denoise(r.params, *cond, nullptr, observer);
    EXPECT_EQ(observer.events.size(), 4u);
    const auto images = backend.decode(r.params, *latents, nullptr);
    ASSERT_EQ(images.size(), 1u);
    EXPECT_EQ(images[0].width, r.params.width);
    EXPECT_EQ(images[0].height, r.params.height);
    const int worst = max_rgb8_diff(images[0], r.image);
    EXPECT_LE(worst, 1) << "image differs from diffusers by more than one 8-bit level";
    // Not a blank or constant image: the pixels spread over the range as diffusers' do.
    const auto [lo, hi] = std::minmax_element(images[0].rgb.begin(), images[0].rgb.end());
    EXPECT_GT(*hi - *lo, 100);
  }
}

TEST_F(SdxlPipeline, BackendDescribesAnSdxlModelWithTwoTextEncoders) {
  TorchBackend backend(cpu_context());
  const auto dir = sdxl_data_dir() / "tiny-sdxl";
  backend.load(dir.string());
  const sdk::ModelInfo info = backend.info();
  EXPECT_EQ(info.family, "sdxl");
  EXPECT_EQ(info.default_sampler, "euler");
  EXPECT_EQ(info.default_size, 64);  // sample_size 32 x 2 (SDXL base: 128 x 8 = 1024)
  EXPECT_EQ(info.vae_scale_factor, 2);
  std::vector<std::string> names;
  for (const auto& c : backend.components()) {
    names.push_back(c.name);
    // F16 files loaded at f32: twice the floating tensors' bytes (position_ids stay int64).
    const auto sub = c.name == "text_encoder" || c.name == "text_encoder_2"
                         ? "model.safetensors"
                         : "diffusion_pytorch_model.safetensors";
    const auto file = SafeTensorsFile::open(dir / c.name / sub);
    std::uint64_t bytes = 0;
    for (const auto& key : file.keys()) {
      if (!runtime_holds(c.name, key)) continue;
      const auto& info = file.info(key);
      bytes += (info.dtype == "F16" ? 2 : 1) * (info.end - info.begin);
    }
    EXPECT_EQ(c.bytes, bytes) << c.name;
  }
  EXPECT_EQ(names, (std::vector<std::string>{"text_encoder", "text_encoder_2", "unet", "vae"}));
  backend.place("text_encoder_2", sdk::Device::cpu);
  try {
    backend.place("text_encoder_3", sdk::Device::cpu);
    FAIL() << "no error";
  } catch (const sdk::Error& e) {
    EXPECT_NE(
        std::string(e.what()).find("expected one of \"text_encoder\", \"text_encoder_2\", \"unet\", \"vae\""),
        std::string::npos)
        << e.what();
  }
}

// A conditioning without the pooled embeddings (an SD 1.x artifact) cannot drive the SDXL UNet.
TEST_F(SdxlPipeline, ConditioningWithoutPooledEmbeddingsIsRefused) {
  TorchBackend backend(cpu_context());
  backend.load((sdxl_data_dir() / "tiny-sdxl").string());
  const BackendRun r = backend_run(m, "pipe.euler.s4", "default");
  auto cond = std::static_pointer_cast<const ConditioningArtifact>(backend.encode(r.params));
  auto without = std::make_shared<ConditioningArtifact>(*cond);
  without->cond_pooled = at::Tensor();
  RecordingObserver observer;
  try {
    backend.denoise(r.params, *without, nullptr, observer);
    FAIL() << "no error";
  } catch (const sdk::Error& e) {
    EXPECT_EQ(e.kind(), sdk::ErrorKind::invalid_request);
    EXPECT_NE(std::string(e.what()).find("needs the pooled text embeddings"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace ftdr::test
