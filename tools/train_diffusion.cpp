// tools/train_diffusion.cpp
#include "train_diffusion.hpp"

#include <ATen/CPUGeneratorImpl.h>

#include <cstdio>

#include "diffusion_math.hpp"
#include "scene_batch.hpp"
#include "shape_metrics.hpp"

namespace ftdr::demo {

namespace {

std::vector<std::string> captions_with_dropout(const std::vector<Sample>& batch, double dropout,
                                               at::Generator& gen) {
  const at::Tensor u = at::rand({static_cast<int64_t>(batch.size())}, gen, at::kDouble);
  std::vector<std::string> captions;
  for (std::size_t i = 0; i < batch.size(); ++i)
    captions.push_back(u[static_cast<int64_t>(i)].item<double>() < dropout ? "" : batch[i].caption);
  return captions;
}

at::Tensor encode_latents(torchbe::AutoencoderKL& vae, const at::Tensor& x, at::Generator& gen,
                          double scaling_factor) {
  at::NoGradGuard no_grad;
  auto [mean, logvar] = vae->encode(x);
  const at::Tensor noise = at::randn(mean.sizes(), gen, at::kFloat).to(mean.device());
  return (mean + at::exp(0.5 * logvar) * noise) * scaling_factor;
}

}  // namespace

bool train_diffusion(const DiffusionNets& nets, const DiffusionTrainOptions& o) {
  const PhaseOptions& p = o.phase;
  std::vector<at::Tensor> params = nets.unet->parameters();
  for (const auto& t : nets.text_encoder->parameters()) params.push_back(t);
  torch::optim::Adam opt(params, torch::optim::AdamOptions(p.lr));
  const std::vector<NamedModule> modules{{"unet", nets.unet.get()},
                                         {"text_encoder", nets.text_encoder.get()}};
  bool done = false;
  std::int64_t step = load_checkpoint(p, modules, opt, done);
  if (done) return true;
  nets.vae->eval();
  nets.unet->train();
  nets.text_encoder->train();
  const at::Tensor acp = sd_alphas_cumprod().to(p.device);
  ProgressLog log(p, step);
  for (; step < p.steps; ++step) {
    set_lr(opt, scheduled_lr(p, step));
    const auto batch = training_batch(p.seed, step, p.batch);
    at::Generator gen = step_generator(p.seed, step, 0);
    const at::Tensor z0 =
        encode_latents(nets.vae, images_to_tensor(batch).to(p.device), gen, o.scaling_factor);
    const at::Tensor ids =
        encode_captions(nets.tokenizer, captions_with_dropout(batch, o.caption_dropout, gen)).to(p.device);
    const at::Tensor t = at::randint(0, 1000, {p.batch}, gen, at::kLong).to(p.device);
    // Offset noise (Guttenberg 2023): a per-channel constant in the noise lets the model move an
    // image's mean, which SD's schedule (non-zero terminal SNR) otherwise cannot; the flat
    // backgrounds of this data set are exactly that mean.
    const at::Tensor noise = (at::randn(z0.sizes(), gen, at::kFloat) +
                              o.offset_noise * at::randn({p.batch, z0.size(1), 1, 1}, gen, at::kFloat))
                                 .to(p.device);
    const at::Tensor a = acp.index_select(0, t).view({-1, 1, 1, 1});
    const at::Tensor zt = a.sqrt() * z0 + (1 - a).sqrt() * noise;
    const at::Tensor eps = nets.unet->forward(zt, t, nets.text_encoder->forward(ids));
    const at::Tensor snr = acp.index_select(0, t) / (1 - acp.index_select(0, t));
    const at::Tensor weight = at::clamp_max(snr, o.min_snr_gamma) / snr;
    const at::Tensor loss = (weight * (eps - noise).pow(2).mean({1, 2, 3})).mean();
    opt.zero_grad();
    loss.backward();
    torch::nn::utils::clip_grad_norm_(params, 1.0);
    opt.step();
    log.add(step, loss.item<double>());
    const bool over_budget = p.time_budget_s > 0 && log.elapsed_s() > p.time_budget_s;
    if ((step + 1) % p.checkpoint_every == 0 || over_budget)
      save_checkpoint(p, modules, opt, step + 1, step + 1 == p.steps);
    if (over_budget) {
      std::printf("[diffusion] time budget of %.0f s reached at step %lld\n", p.time_budget_s,
                  static_cast<long long>(step + 1));
      return false;
    }
  }
  save_checkpoint(p, modules, opt, p.steps, true);
  return true;
}

void print_preview_accuracy(const DiffusionNets& nets, double scaling_factor, int count, int steps,
                            double guidance, at::Device device) {
  nets.unet->eval();
  nets.text_encoder->eval();
  nets.vae->eval();
  SceneGenerator gen(4242);
  std::vector<Sample> samples;
  for (int i = 0; i < count; ++i) samples.push_back(gen.next(Split::held_out));
  std::vector<std::string> captions, empty(samples.size());
  for (const auto& s : samples) captions.push_back(s.caption);
  at::Generator noise = at::make_generator<at::CPUGeneratorImpl>(7);
  const at::Tensor images =
      ddim_preview({nets.text_encoder, nets.unet, nets.vae, scaling_factor},
                   encode_captions(nets.tokenizer, captions).to(device),
                   encode_captions(nets.tokenizer, empty).to(device), noise, steps, guidance);
  int colour = 0, background = 0, shape = 0;
  for (int i = 0; i < count; ++i) {
    const auto m = match(analyse(tensor_to_rgb(images[i]), kImageSize, kImageSize), samples[i].spec);
    colour += m.colour, background += m.background, shape += m.shape;
  }
  std::printf(
      "[preview] %d held-out captions, DDIM %d steps, guidance %.1f: colour %.0f%%, "
      "background %.0f%%, shape %.0f%%\n",
      count, steps, guidance, 100.0 * colour / count, 100.0 * background / count, 100.0 * shape / count);
  std::fflush(stdout);
}

}  // namespace ftdr::demo
