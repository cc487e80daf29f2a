// tools/train_vae.hpp: phase 1 of the demo-model training: the AutoencoderKL on ftdr-shapes images.
//
// Loss: L1 + MSE between the image and the decoding of a sampled latent (mean + std * noise), plus
// kl_weight * the mean KL divergence to N(0, 1), which keeps the latent space smooth enough for the
// diffusion model's imperfect samples to decode cleanly.
#pragma once
#include "training_loop.hpp"
#include "vae/autoencoder_kl.hpp"

namespace ftdr::demo {

struct VaeTrainOptions {
  PhaseOptions phase;
  double kl_weight = 1e-4;
};

// Trains (or resumes) the VAE. Returns false when the time budget stopped it early.
bool train_vae(torchbe::AutoencoderKL& vae, const VaeTrainOptions& o);

// 1 / std of sampled latents of `count` training images: SD's scaling_factor convention, so the
// UNet sees latents of unit variance.
double measure_scaling_factor(torchbe::AutoencoderKL& vae, std::uint64_t seed, int count, at::Device device);

// Mean absolute reconstruction error (0..255 scale) of `count` held-out images, for the log.
double reconstruction_error(torchbe::AutoencoderKL& vae, std::uint64_t seed, int count, at::Device device);

}  // namespace ftdr::demo
