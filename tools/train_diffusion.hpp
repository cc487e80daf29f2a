// tools/train_diffusion.hpp: phase 2 of the demo-model training: the UNet and the CLIP text encoder,
// jointly, on latents of the (frozen) phase-1 VAE.
//
// Objective: DDPM epsilon prediction under SD's scaled_linear schedule (so DDIM/Euler/DPM++ from
// the backend sample it as they sample SD), with Min-SNR-5 loss weighting (Hang et al. 2023,
// "Efficient Diffusion Training via Min-SNR Weighting Strategy"), which converges several times
// faster for small budgets, and offset noise (see train_diffusion.cpp). A tenth of the captions
// are replaced by "" so classifier-free guidance has an unconditional model to push against.
#pragma once
#include "clip/clip_text_model.hpp"
#include "tokenizer/clip_tokenizer.hpp"
#include "training_loop.hpp"
#include "unet/unet_2d_condition_model.hpp"
#include "vae/autoencoder_kl.hpp"

namespace ftdr::demo {

struct DiffusionTrainOptions {
  PhaseOptions phase;
  double caption_dropout = 0.1;
  double min_snr_gamma = 5.0;
  double offset_noise = 0.1;
  double scaling_factor = 1.0;
};

struct DiffusionNets {
  torchbe::CLIPTextModel& text_encoder;
  torchbe::UNet2DConditionModel& unet;
  torchbe::AutoencoderKL& vae;  // frozen; encodes the training images
  const torchbe::CLIPTokenizer& tokenizer;
};

// Trains (or resumes). Returns false when the time budget stopped it early.
bool train_diffusion(const DiffusionNets& nets, const DiffusionTrainOptions& o);

// Monitor: samples `count` held-out captions with the training-side DDIM and prints the share
// whose colour, background and shape the image analysis reads back correctly.
void print_preview_accuracy(const DiffusionNets& nets, double scaling_factor, int count, int steps,
                            double guidance, at::Device device);

}  // namespace ftdr::demo
