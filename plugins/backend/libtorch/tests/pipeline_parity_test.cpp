// The whole text-to-image pipeline against diffusers 0.31: tokenizer, text encoder, UNet with
// classifier-free guidance, every sampler, VAE decode and postprocessing, for every reference run of
// both tiny models; from the recorded initial latents and from the seeds alone; batches; resume.
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <optional>

#include "clip/clip_text_model.hpp"
#include "common/reference.hpp"
#include "io/model_folder.hpp"
#include "io/safetensors.hpp"
#include "io/weights.hpp"
#include "pipeline/denoise_loop.hpp"
#include "pipeline/image_convert.hpp"
#include "pipeline/seeds.hpp"
#include "sampler_test_util.hpp"
#include "samplers/sampler.hpp"
#include "tokenizer/clip_tokenizer.hpp"
#include "unet/unet_2d_condition_model.hpp"
#include "vae/autoencoder_kl.hpp"

namespace ftdr::test {
namespace {

using namespace torchbe;

struct TinyPipeline {
  ModelReference ref;
  ModelFolder folder;
  std::optional<CLIPTokenizer> tokenizer;
  CLIPTextModel text_encoder{nullptr};
  UNet2DConditionModel unet{nullptr};
  AutoencoderKL vae{nullptr};

  static std::unique_ptr<TinyPipeline> load(const std::filesystem::path& root, const std::string& name) {
    auto p = std::make_unique<TinyPipeline>();
    p->ref = ModelReference::load(root, name);
    p->folder = read_model_folder(root / name);
    p->tokenizer = CLIPTokenizer::from_folder(p->folder.tokenizer_dir);
    p->text_encoder = CLIPTextModel(p->folder.text_encoder);
    load_module_weights(*p->text_encoder, SafeTensorsFile::open(p->folder.text_encoder_weights), at::kFloat);
    p->unet = UNet2DConditionModel(p->folder.unet);
    load_module_weights(*p->unet, SafeTensorsFile::open(p->folder.unet_weights), at::kFloat);
    p->vae = AutoencoderKL(p->folder.vae);
    load_module_weights(*p->vae, SafeTensorsFile::open(p->folder.vae_weights), at::kFloat);
    p->text_encoder->eval();
    p->unet->eval();
    p->vae->eval();
    return p;
  }

  at::Tensor encode(const std::string& text) {
    at::NoGradGuard no_grad;
    const auto ids = tokenizer->encode(text);
    return text_encoder->forward(at::tensor(ids, at::kLong).unsqueeze(0));
  }

  std::unique_ptr<Sampler> sampler_for(const std::string& run) const {
    const auto& r = ref.ref["runs"][run];
    auto s = make_sampler(sampler_of(run), ref.scheduler_config_for(r["scheduler_overrides_on_pipe_config"]),
                          r["eta"].get<double>());
    s->set_timesteps(r["num_inference_steps"].get<int>());
    return s;
  }

  struct Embeddings {
    at::Tensor cond, uncond;
  };
  Embeddings embeddings_for(const std::string& run) {
    const auto& r = ref.ref["runs"][run];
    const std::string negative =
        r["negative_prompt"].is_null() ? "" : r["negative_prompt"].get<std::string>();
    return {encode(r["prompt"].get<std::string>()), encode(negative)};
  }

  at::Tensor decode_unit(const at::Tensor& latents) {
    at::NoGradGuard no_grad;
    return decoded_to_unit(vae->decode(latents / folder.vae.scaling_factor));
  }
};

class PipelineParity : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto root = reference_dir();
    if (!root) return;
    at::set_num_threads(2);
    for (const char* name : {"tiny-sd1", "tiny-sd2v"}) pipelines_.push_back(TinyPipeline::load(*root, name));
  }
  static void TearDownTestSuite() { pipelines_.clear(); }
  void SetUp() override {
    FTDR_REQUIRE_REFERENCE(root);
    (void)root;
  }

  static void expect_matches_reference(TinyPipeline& p, const std::string& run, const at::Tensor& latents,
                                       double& worst_latents, double& worst_image) {
    const at::Tensor ref_latents = p.ref.tensor(run + ".latents_final");
    const double rel = rel_diff(latents, ref_latents);
    EXPECT_LE(rel, 1e-3) << p.ref.name << " " << run << ": final latents, max |ref| " << max_abs(ref_latents);
    const double img = max_abs_diff(p.decode_unit(latents), p.ref.tensor(run + ".image"));
    EXPECT_LE(img, 1e-3) << p.ref.name << " " << run << ": image";
    worst_latents = std::max(worst_latents, rel);
    worst_image = std::max(worst_image, img);
  }

  static std::vector<std::unique_ptr<TinyPipeline>> pipelines_;
};
std::vector<std::unique_ptr<TinyPipeline>> PipelineParity::pipelines_;

// Every run from its recorded initial latents; Euler-ancestral noise from the run's generator seed,
// whose draws equal the recorded step_noise bit for bit (SeedsParity checks that).
TEST_F(PipelineParity, EveryRunFromRecordedLatentsMatchesDiffusers) {
  double worst_latents = 0, worst_image = 0;
  int runs = 0;
  for (auto& p : pipelines_) {
    for (auto it = p->ref.ref["runs"].begin(); it != p->ref.ref["runs"].end(); ++it) {
      const std::string run = it.key();
      SCOPED_TRACE(p->ref.name + " " + run);
      const auto& r = it.value();
      auto sampler = p->sampler_for(run);
      const auto e = p->embeddings_for(run);
      NoiseSource noise(r["generator_seed"].get<uint64_t>(), 0, 1);
      int steps_seen = 0;
      const at::Tensor out =
          denoise(p->unet, *sampler, e.cond, e.uncond, p->ref.tensor(run + ".latents_init"),
                  r["guidance_scale"].get<double>(), 0, noise,
                  [&](int step, const at::Tensor&) { EXPECT_EQ(step, ++steps_seen); });
      EXPECT_EQ(steps_seen, sampler->num_steps());
      expect_matches_reference(*p, run, out, worst_latents, worst_image);
      ++runs;
    }
  }
  EXPECT_EQ(runs, 34);
  std::cout << "[ measured ] " << runs << " runs: worst final-latents rel diff " << worst_latents
            << ", worst image max abs diff " << worst_image << "\n";
}

// From the seeds alone, as the backend runs: the latents are the first draw of the latent seed's
// generator (diffusers with latents=None gives the same, reference checks.latents_None_...); the
// ancestral noise comes from the generator diffusers was given.
TEST_F(PipelineParity, RunsFromSeedsAloneMatchDiffusers) {
  double worst_latents = 0, worst_image = 0;
  for (auto& p : pipelines_) {
    // One ancestral run (latents and noise from seeds) and one deterministic run per model: the
    // other runs differ from EveryRunFromRecordedLatents only in where the latents come from.
    for (const std::string run : {"pipe.euler_a.s4", "pipe.dpmpp_2m_karras.s4"}) {
      SCOPED_TRACE(p->ref.name + " " + run);
      const auto& r = p->ref.ref["runs"][run];
      const int h = r["height"].get<int>() / 2, w = r["width"].get<int>() / 2;
      NoiseSource latent_source(r["latent_seed"].get<uint64_t>(), 0, 1);
      const at::Tensor latents = latent_source.draw({1, 4, h, w});
      const bool ancestral = sampler_of(run) == "euler_a";
      NoiseSource ancestral_source(r["generator_seed"].get<uint64_t>(), 0, 1);
      auto sampler = p->sampler_for(run);
      const auto e = p->embeddings_for(run);
      const at::Tensor out =
          denoise(p->unet, *sampler, e.cond, e.uncond, latents, r["guidance_scale"].get<double>(), 0,
                  ancestral ? ancestral_source : latent_source, nullptr);
      expect_matches_reference(*p, run, out, worst_latents, worst_image);
    }
  }
  std::cout << "[ measured ] from seeds: worst final-latents rel diff " << worst_latents << ", worst image "
            << worst_image << "\n";
}

// Image k of a batch equals the same image generated alone (seed + k), bit for bit, with guidance
// (UNet batches 4 and 2) and without (2 and 1, where libtorch alone rounds convolutions and small
// GEMMs differently for one image than for a batch).
TEST_F(PipelineParity, BatchOfTwoEqualsTwoSingleRuns) {
  auto& p = *pipelines_.front();
  const std::string run = "pipe.euler_a.s4";
  const auto e = p.embeddings_for(run);
  for (const double cfg : {7.5, 1.0}) {
    auto run_images = [&](uint64_t seed, int first, int batch) {
      NoiseSource noise(seed, first, batch);
      const at::Tensor latents = noise.draw({batch, 4, 32, 32});
      auto sampler = p.sampler_for(run);
      return denoise(p.unet, *sampler, e.cond, e.uncond, latents, cfg, 0, noise, nullptr);
    };
    const at::Tensor both = run_images(100, 0, 2);
    const at::Tensor second = run_images(100, 1, 1);
    EXPECT_TRUE(at::equal(both[1].unsqueeze(0), second))
        << "cfg " << cfg << ": rel diff " << rel_diff(both[1].unsqueeze(0), second);
    EXPECT_GT(max_abs_diff(both[0], both[1]), 1.0);
  }
}

// Stop after step k (as a checkpoint does), restore sampler + noise state + latents into fresh
// objects, finish: bit-identical to the uninterrupted run.
TEST_F(PipelineParity, ResumeAfterCheckpointIsBitIdentical) {
  // Every sampler and every k is covered without the UNet (SamplerParity.ResumeFromSavedState...);
  // here the loop itself, with the multistep and the ancestral samplers, on one model.
  struct Stop {};
  TinyPipeline* p = pipelines_.front().get();
  for (const std::string run : {"pipe.pndm.s4", "pipe.euler_a.s4", "pipe.dpmpp_2m.s4"}) {
    const auto& r = p->ref.ref["runs"][run];
    const auto e = p->embeddings_for(run);
    const double cfg = r["guidance_scale"].get<double>();
    const uint64_t seed = r["latent_seed"].get<uint64_t>();
    NoiseSource noise(seed, 0, 1);
    const at::Tensor init = noise.draw({1, 4, 32, 32});
    const auto noise_after_init = noise.state();
    auto full = p->sampler_for(run);
    const at::Tensor expected = denoise(p->unet, *full, e.cond, e.uncond, init, cfg, 0, noise, nullptr);
    for (int k : {1, 3}) {
      SCOPED_TRACE(p->ref.name + " " + run + " resume at " + std::to_string(k));
      NoiseSource first_noise(seed, 0, 1);
      first_noise.load_state(noise_after_init);
      auto first = p->sampler_for(run);
      SamplerState sampler_state, noise_state;
      at::Tensor latents_k;
      try {
        denoise(p->unet, *first, e.cond, e.uncond, init, cfg, 0, first_noise,
                [&](int step, const at::Tensor& x) {
                  if (step < k) return;
                  sampler_state = first->state();
                  noise_state = first_noise.state();
                  latents_k = x.clone();
                  throw Stop{};
                });
        ADD_FAILURE() << "on_step exception did not stop the loop";
      } catch (const Stop&) {
      }
      NoiseSource resumed_noise(seed + 12345, 0, 1);  // a wrong seed: the state must override it
      resumed_noise.load_state(noise_state);
      auto resumed = p->sampler_for(run);
      resumed->load_state(sampler_state);
      const at::Tensor out =
          denoise(p->unet, *resumed, e.cond, e.uncond, latents_k, cfg, k, resumed_noise, nullptr);
      EXPECT_TRUE(at::equal(out, expected));
    }
  }
}

TEST(ImageConvert, ClampsAndRoundsLikeNumpyToPil) {
  // decoded v -> clamp(v / 2 + 0.5, 0, 1) -> round(x * 255), half to even; NCHW -> NHWC.
  const at::Tensor decoded =
      at::tensor({-2.0f, -1.0f, 0.0f, 1.0f, 2.0f, 0.1f}).view({1, 1, 2, 3}).expand({1, 3, 2, 3}).contiguous();
  const at::Tensor unit = decoded_to_unit(decoded);
  ASSERT_EQ(unit.sizes(), (at::IntArrayRef{1, 2, 3, 3}));
  EXPECT_EQ(unit[0][0][2][1].item<float>(), 0.5f);
  const auto images = unit_to_rgb8(unit);
  ASSERT_EQ(images.size(), 1u);
  EXPECT_EQ(images[0].width, 3);
  EXPECT_EQ(images[0].height, 2);
  const std::vector<uint8_t> expected = {0, 0, 128, 255, 255, 140};  // 127.5 -> 128 (even), 140.25 -> 140
  for (size_t px = 0; px < expected.size(); ++px) {
    for (size_t c = 0; c < 3; ++c) EXPECT_EQ(images[0].rgb[px * 3 + c], expected[px]) << px;
  }
}

}  // namespace
}  // namespace ftdr::test
