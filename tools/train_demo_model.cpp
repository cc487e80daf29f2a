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

#include <chrono>
#include <cstdio>
#include <iostream>
#include <stdexcept>
#include <string>

#include "adapter/blas_info.hpp"
#include "bpe_learner.hpp"
#include "demo_model_spec.hpp"
#include "shapes_data.hpp"
#include "train_diffusion.hpp"
#include "train_vae.hpp"

using namespace ftdr;

namespace {

struct Args {
  std::string out = "models/ftdr-shapes", work = "build/demo-train", device = "cpu";
  std::uint64_t seed = 1;
  int threads = 2;
  int blas_threads = 1;
  double budget_min = 60;
  demo::VaeTrainOptions vae;
  demo::DiffusionTrainOptions diffusion;
  int preview = 32;
  std::string unet_attention;  // empty: the standard spec's
};

// Flags are "--name value"; every flag has a default (see usage()). No Boost here, so the trainer
// builds anywhere libtorch does.
const char* kUsage =
    "ftdr_train_demo: train the ftdr-shapes demo model\n"
    "  --out DIR             model folder to write (models/ftdr-shapes)\n"
    "  --work DIR            checkpoint folder (build/demo-train)\n"
    "  --seed N              seed of everything (1)\n"
    "  --threads N           intra-op CPU threads (2)\n"
    "  --blas-threads N      OpenBLAS threads (1)\n"
    "  --device cpu|cuda     where the networks train (cpu)\n"
    "  --time-budget-min M   wall-time cap in minutes, VAE gets 25% (60)\n"
    "  --vae-steps N         VAE steps (900)       --vae-batch N (16)   --vae-lr X (1e-3)\n"
    "  --unet-steps N        UNet+text steps (2200) --unet-batch N (32) --unet-lr X (8e-4)\n"
    "  --preview N           held-out samples for the final check (32)\n"
    "  --unet-attention 01   per UNet level, outermost first: 1 = cross-attention blocks\n";

bool parse(int argc, char** argv, Args& a) {
  a.vae.phase.steps = 900, a.vae.phase.batch = 16, a.vae.phase.lr = 1e-3;
  a.diffusion.phase.steps = 2200, a.diffusion.phase.batch = 32, a.diffusion.phase.lr = 8e-4;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--help" || flag == "-h") {
      std::cout << kUsage;
      return false;
    }
    if (i + 1 >= argc) throw std::invalid_argument(flag + ": expected a value after it");
    const std::string v = argv[++i];
    if (flag == "--out")
      a.out = v;
    else if (flag == "--work")
      a.work = v;
    else if (flag == "--seed")
      a.seed = std::stoull(v);
    else if (flag == "--threads")
      a.threads = std::stoi(v);
    else if (flag == "--blas-threads")
      a.blas_threads = std::stoi(v);
    else if (flag == "--device")
      a.device = v;
    else if (flag == "--time-budget-min")
      a.budget_min = std::stod(v);
    else if (flag == "--vae-steps")
      a.vae.phase.steps = std::stoll(v);
    else if (flag == "--vae-batch")
      a.vae.phase.batch = std::stoi(v);
    else if (flag == "--vae-lr")
      a.vae.phase.lr = std::stod(v);
    else if (flag == "--unet-steps")
      a.diffusion.phase.steps = std::stoll(v);
    else if (flag == "--unet-batch")
      a.diffusion.phase.batch = std::stoi(v);
    else if (flag == "--unet-lr")
      a.diffusion.phase.lr = std::stod(v);
    else if (flag == "--preview")
      a.preview = std::stoi(v);
    else if (flag == "--unet-attention")
      a.unet_attention = v;
    else
      throw std::invalid_argument("unknown flag " + flag + "\n" + kUsage);
  }
  if (a.device != "cpu" && a.device != "cuda") throw std::invalid_argument("--device: expected cpu or cuda");
  return true;
}

void init_text_embeddings(torchbe::CLIPTextModel& te) {
  // transformers initialises CLIP embeddings with N(0, 0.02); libtorch's default is N(0, 1).
  torch::NoGradGuard no_grad;
  te->text_model->embeddings->token_embedding->weight.normal_(0, 0.02);
  te->text_model->embeddings->position_embedding->weight.normal_(0, 0.01);
}

void write_folder(const std::filesystem::path& out, const demo::DemoSpec& spec, double sf,
                  torchbe::CLIPTextModel& te, torchbe::UNet2DConditionModel& unet,
                  torchbe::AutoencoderKL& vae) {
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
  // One pool of a.threads: OpenBLAS's own pthreads, spinning beside libtorch's OpenMP threads,
  // oversubscribe a 2-core machine (measured there: 0.26 UNet steps/s with both pools, 0.34 with
  // OpenBLAS on one thread).
  if (a.device == "cpu" && torchbe::set_openblas_threads(a.blas_threads))
    std::printf("OpenBLAS: %d thread(s); libtorch: %d intra-op threads\n", a.blas_threads, a.threads);
  const auto start = std::chrono::steady_clock::now();
  const std::filesystem::path out(a.out), work(a.work);
  const at::Device device(a.device == "cuda" ? at::kCUDA : at::kCPU);
  // Full float32 convolutions on GPUs too (no TF32; matmuls are float32 by default), so a CUDA run
  // follows the CPU recipe as closely as it can.
  at::globalContext().setAllowTF32CuDNN(false);

  const auto merges = demo::learn_bpe(demo::caption_corpus(), 400);
  const int vocab = demo::write_clip_tokenizer(out / "tokenizer", merges);
  std::printf("tokenizer: %zu merges, vocabulary %d\n", merges.size(), vocab);
  const auto tokenizer = torchbe::CLIPTokenizer::from_folder(out / "tokenizer");
  demo::DemoSpec spec = demo::DemoSpec::standard(vocab);
  if (!a.unet_attention.empty()) {
    if (a.unet_attention.size() != spec.unet_channels.size() ||
        a.unet_attention.find_first_not_of("01") != std::string::npos)
      throw std::invalid_argument("--unet-attention: expected " + std::to_string(spec.unet_channels.size()) +
                                  " digits 0/1, got \"" + a.unet_attention + "\"");
    spec.unet_attention.assign(a.unet_attention.size(), false);
    for (std::size_t i = 0; i < a.unet_attention.size(); ++i)
      spec.unet_attention[i] = a.unet_attention[i] == '1';
  }

  torch::manual_seed(a.seed);
  torchbe::AutoencoderKL vae(spec.vae_config());
  torchbe::CLIPTextModel te(spec.text_encoder_config());
  torchbe::UNet2DConditionModel unet(spec.unet_config());
  init_text_embeddings(te);
  vae->to(device);
  te->to(device);
  unet->to(device);
  auto count = [](torch::nn::Module& m) {
    int64_t n = 0;
    for (const auto& p : m.parameters()) n += p.numel();
    return static_cast<long long>(n);
  };
  std::printf("parameters: vae %lld, text_encoder %lld, unet %lld\n", count(*vae), count(*te), count(*unet));

  for (auto* p : {&a.vae.phase, &a.diffusion.phase}) {
    p->seed = a.seed;
    p->work_dir = work;
    p->device = device;
  }
  a.vae.phase.name = "vae";
  a.vae.phase.time_budget_s = a.budget_min * 60 * 0.25;
  // A VAE stopped by the budget is used as it is (checkpointed; a rerun finishes it first).
  const bool vae_finished = demo::train_vae(vae, a.vae);
  for (auto& p : vae->parameters()) p.requires_grad_(false);
  const double sf = demo::measure_scaling_factor(vae, a.seed, 256, device);
  std::printf("vae: held-out reconstruction error %.2f / 255, scaling_factor %.5f\n",
              demo::reconstruction_error(vae, a.seed, 64, device), sf);

  a.diffusion.phase.name = "diffusion";
  a.diffusion.phase.warmup = 200;
  a.diffusion.scaling_factor = sf;
  const double used_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  a.diffusion.phase.time_budget_s = std::max(60.0, a.budget_min * 60 - used_s - 60);
  const demo::DiffusionNets nets{te, unet, vae, tokenizer};
  const bool finished = demo::train_diffusion(nets, a.diffusion) && vae_finished;
  write_folder(out, spec, sf, te, unet, vae);
  if (a.preview > 0)
    for (double guidance : {4.0, 7.5})
      demo::print_preview_accuracy(nets, sf, a.preview, 20, guidance, device);
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
