// tools/train_vae.cpp
#include "train_vae.hpp"

#include <cstdio>

#include "scene_batch.hpp"

namespace ftdr::demo {

bool train_vae(torchbe::AutoencoderKL& vae, const VaeTrainOptions& o) {
  const PhaseOptions& p = o.phase;
  torch::optim::Adam opt(vae->parameters(), torch::optim::AdamOptions(p.lr));
  bool done = false;
  std::int64_t step = load_checkpoint(p, {{"vae", vae.get()}}, opt, done);
  if (done) return true;
  vae->train();
  ProgressLog log(p, step);
  for (; step < p.steps; ++step) {
    set_lr(opt, scheduled_lr(p, step));
    const at::Tensor x = images_to_tensor(training_batch(p.seed, step, p.batch)).to(p.device);
    at::Generator gen = step_generator(p.seed, step, 0);
    auto [mean, logvar] = vae->encode(x);
    const at::Tensor z = mean + at::exp(0.5 * logvar) * at::randn(mean.sizes(), gen, at::kFloat).to(p.device);
    const at::Tensor recon = vae->decode(z);
    const at::Tensor kl = 0.5 * (mean.pow(2) + logvar.exp() - 1 - logvar).mean();
    const at::Tensor loss = (recon - x).abs().mean() + (recon - x).pow(2).mean() + o.kl_weight * kl;
    opt.zero_grad();
    loss.backward();
    torch::nn::utils::clip_grad_norm_(vae->parameters(), 1.0);
    opt.step();
    log.add(step, loss.item<double>());
    const bool over_budget = p.time_budget_s > 0 && log.elapsed_s() > p.time_budget_s;
    if ((step + 1) % p.checkpoint_every == 0 || over_budget)
      save_checkpoint(p, {{"vae", vae.get()}}, opt, step + 1, step + 1 == p.steps);
    if (over_budget) {
      std::printf("[vae] time budget of %.0f s reached at step %lld\n", p.time_budget_s,
                  static_cast<long long>(step + 1));
      return false;
    }
  }
  save_checkpoint(p, {{"vae", vae.get()}}, opt, p.steps, true);
  return true;
}

double measure_scaling_factor(torchbe::AutoencoderKL& vae, std::uint64_t seed, int count, at::Device device) {
  at::NoGradGuard no_grad;
  vae->eval();
  std::vector<at::Tensor> latents;
  for (int done = 0, k = 0; done < count; done += 32, ++k) {
    const at::Tensor x =
        images_to_tensor(training_batch(seed ^ 0x5CA1Eull, k, std::min(32, count - done))).to(device);
    auto [mean, logvar] = vae->encode(x);
    at::Generator gen = step_generator(seed ^ 0x5CA1Eull, k, 1);
    latents.push_back(mean + at::exp(0.5 * logvar) * at::randn(mean.sizes(), gen, at::kFloat).to(device));
  }
  return 1.0 / at::cat(latents).std().item<double>();
}

double reconstruction_error(torchbe::AutoencoderKL& vae, std::uint64_t seed, int count, at::Device device) {
  at::NoGradGuard no_grad;
  vae->eval();
  SceneGenerator gen(seed);
  std::vector<Sample> samples;
  for (int i = 0; i < count; ++i) samples.push_back(gen.next(Split::held_out));
  const at::Tensor x = images_to_tensor(samples).to(device);
  const at::Tensor recon = vae->decode(vae->encode(x).first).clamp(-1, 1);
  return (recon - x).abs().mean().item<double>() * 127.5;
}

}  // namespace ftdr::demo
