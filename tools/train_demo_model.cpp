// tools/train_demo_model.cpp: ftdr_train_demo, trains the embedded demo model "ftdr-shapes" from
// scratch and writes it in the diffusers folder layout (fp16 safetensors).
//
//   ftdr_train_demo --out models/ftdr-shapes --work build/demo-train --seed 1 --threads 2
//
// Steps: (1) learn the BPE tokenizer from the caption corpus; (2) train the VAE; (3) measure the
// latent scaling factor; (4) train UNet + text encoder on latents; (5) write the folder. Each
// phase checkpoints into --work and a rerun resumes where it stopped; --time-budget-min caps each
// phase's share of the wall time (the run then stops checkpointed and can be resumed).
#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <boost/program_options.hpp>
#include <chrono>
#include <cstdio>
#include <iostream>

#include "bpe_learner.h"
#include "demo_model_spec.h"
#include "shapes_data.h"
#include "train_diffusion.h"
#include "train_vae.h"

namespace po = boost::program_options;
using namespace ftdr;

namespace {

struct Args {
  std::string out, work;
  std::uint64_t seed = 1;
  int threads = 2;
  double budget_min = 60;
  demo::VaeTrainOptions vae;
  demo::DiffusionTrainOptions diffusion;
  int preview = 32;
};

bool parse(int argc, char** argv, Args& a) {
  po::options_description d("ftdr_train_demo: train the ftdr-shapes demo model");
  d.add_options()("help,h", "this help")
      ("out", po::value(&a.out)->default_value("models/ftdr-shapes"), "model folder to write")
      ("work", po::value(&a.work)->default_value("build/demo-train"), "checkpoint folder")
      ("seed", po::value(&a.seed)->default_value(1), "seed of everything")
      ("threads", po::value(&a.threads)->default_value(2), "intra-op CPU threads")
      ("time-budget-min", po::value(&a.budget_min)->default_value(60), "wall-time cap, minutes (VAE 25%)")
      ("vae-steps", po::value(&a.vae.phase.steps)->default_value(1500), "VAE steps")
      ("vae-batch", po::value(&a.vae.phase.batch)->default_value(16), "VAE batch")
      ("vae-lr", po::value(&a.vae.phase.lr)->default_value(1e-3), "VAE learning rate")
      ("unet-steps", po::value(&a.diffusion.phase.steps)->default_value(6000), "UNet+text encoder steps")
      ("unet-batch", po::value(&a.diffusion.phase.batch)->default_value(32), "UNet batch")
      ("unet-lr", po::value(&a.diffusion.phase.lr)->default_value(5e-4), "UNet learning rate")
      ("preview", po::value(&a.preview)->default_value(32), "held-out samples for the final check");
  po::variables_map vm;
  po::store(po::parse_command_line(argc, argv, d), vm);
  po::notify(vm);
  if (vm.count("help")) {
    std::cout << d << "\n";
    return false;
  }
  return true;
}

void init_text_embeddings(torchbe::CLIPTextModel& te) {
  // transformers initialises CLIP embeddings with N(0, 0.02); libtorch's default is N(0, 1).
  torch::NoGradGuard no_grad;
  te->text_model->embeddings->token_embedding->weight.normal_(0, 0.02);
  te->text_model->embeddings->position_embedding->weight.normal_(0, 0.01);
}

void write_folder(const std::filesystem::path& out, const demo::DemoSpec& spec, double sf,
                  torchbe::CLIPTextModel& te, torchbe::UNet2DConditionModel& unet, torchbe::AutoencoderKL& vae) {
  demo::write_json(out / "model_index.json", demo::DemoSpec::model_index_json());
  demo::write_json(out / "scheduler" / "scheduler_config.json", demo::DemoSpec::scheduler_json());
  demo::write_component(out / "text_encoder", spec.text_encoder_json(), *te, "model");
  demo::write_component(out / "unet", spec.unet_json(), *unet, "diffusion_pytorch_model");
  demo::write_component(out / "vae", spec.vae_json(sf), *vae, "diffusion_pytorch_model");
  std::printf("wrote %s\n", out.string().c_str());
}

int run(Args& a) {
  at::set_num_threads(a.threads);
  at::set_num_interop_threads(1);
  const auto start = std::chrono::steady_clock::now();
  const std::filesystem::path out(a.out), work(a.work);

  const auto merges = demo::learn_bpe(demo::caption_corpus(), 400);
  const int vocab = demo::write_clip_tokenizer(out / "tokenizer", merges);
  std::printf("tokenizer: %zu merges, vocabulary %d\n", merges.size(), vocab);
  const auto tokenizer = torchbe::CLIPTokenizer::from_folder(out / "tokenizer");
  const demo::DemoSpec spec = demo::DemoSpec::standard(vocab);

  torch::manual_seed(a.seed);
  torchbe::AutoencoderKL vae(spec.vae_config());
  torchbe::CLIPTextModel te(spec.text_encoder_config());
  torchbe::UNet2DConditionModel unet(spec.unet_config());
  init_text_embeddings(te);
  auto count = [](torch::nn::Module& m) {
    int64_t n = 0;
    for (const auto& p : m.parameters()) n += p.numel();
    return static_cast<long long>(n);
  };
  std::printf("parameters: vae %lld, text_encoder %lld, unet %lld\n", count(*vae), count(*te), count(*unet));

  for (auto* p : {&a.vae.phase, &a.diffusion.phase}) {
    p->seed = a.seed;
    p->work_dir = work;
  }
  a.vae.phase.name = "vae";
  a.vae.phase.time_budget_s = a.budget_min * 60 * 0.25;
  if (!demo::train_vae(vae, a.vae)) return 3;
  for (auto& p : vae->parameters()) p.requires_grad_(false);
  const double sf = demo::measure_scaling_factor(vae, a.seed, 256);
  std::printf("vae: held-out reconstruction error %.2f / 255, scaling_factor %.5f\n",
              demo::reconstruction_error(vae, a.seed, 64), sf);

  a.diffusion.phase.name = "diffusion";
  a.diffusion.phase.warmup = 200;
  a.diffusion.scaling_factor = sf;
  const double used_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  a.diffusion.phase.time_budget_s = std::max(60.0, a.budget_min * 60 - used_s - 60);
  const demo::DiffusionNets nets{te, unet, vae, tokenizer};
  const bool finished = demo::train_diffusion(nets, a.diffusion);
  write_folder(out, spec, sf, te, unet, vae);
  if (a.preview > 0) demo::print_preview_accuracy(nets, sf, a.preview, 20, 5.0);
  const double total = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("total wall time %.1f min (this invocation)%s\n", total / 60,
              finished ? "" : "; stopped by the time budget: rerun to resume");
  return finished ? 0 : 3;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    Args a;
    if (!parse(argc, argv, a)) return 0;
    return run(a);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ftdr_train_demo: %s\n", e.what());
    return 1;
  }
}
