// plugins/backend/libtorch/tests/network_parity.hpp: shared helpers for the network parity tests.
//
// Models and reference tensors are loaded once per process (the cache below) so that every parity
// test of one network shares the load; SetUpTestSuite calls load_parity_model() up front.
#pragma once
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <string>

#include "clip/clip_text_model.hpp"
#include "ftdr/sdk/error.hpp"
#include "io/model_folder.hpp"
#include "io/safetensors.hpp"
#include "io/weights.hpp"
#include "tensor_diff.hpp"
#include "tokenizer/clip_tokenizer.hpp"
#include "unet/unet_2d_condition_model.hpp"
#include "vae/autoencoder_kl.hpp"

namespace ftdr::test {

inline const char* const kParityModels[] = {"tiny-sd1", "tiny-sd2v"};

// Single float32 network calls: README "Tolerances" (max_abs <= 1e-4).
constexpr double kNetworkTolerance = 1e-4;
// Sliced vs naive attention: the same math, only the matmul blocking differs.
constexpr double kSlicedTolerance = 1e-5;

struct ParityModel {
  std::filesystem::path dir;
  torchbe::ModelFolder folder;
  std::unique_ptr<torchbe::SafeTensorsFile> reference;
  torchbe::CLIPTextModel text_encoder{nullptr};
  torchbe::UNet2DConditionModel unet{nullptr};
  torchbe::AutoencoderKL vae{nullptr};

  at::Tensor ref(const std::string& key) const { return reference->load(key); }
};

// Loads (once) the named model from the reference folder with all weights in float32.
inline ParityModel& load_parity_model(const std::filesystem::path& reference_dir, const std::string& name) {
  static std::map<std::string, std::unique_ptr<ParityModel>> cache;
  auto& slot = cache[name];
  if (!slot) {
    auto m = std::make_unique<ParityModel>();
    m->dir = reference_dir / name;
    m->folder = torchbe::read_model_folder(m->dir);
    m->reference = std::make_unique<torchbe::SafeTensorsFile>(
        torchbe::SafeTensorsFile::open(m->dir / "reference.safetensors"));
    m->text_encoder = torchbe::CLIPTextModel(m->folder.text_encoder);
    torchbe::load_module_weights(*m->text_encoder,
                                 torchbe::SafeTensorsFile::open(m->folder.text_encoder_weights), at::kFloat);
    m->unet = torchbe::UNet2DConditionModel(m->folder.unet);
    torchbe::load_module_weights(*m->unet, torchbe::SafeTensorsFile::open(m->folder.unet_weights),
                                 at::kFloat);
    m->vae = torchbe::AutoencoderKL(m->folder.vae);
    torchbe::load_module_weights(*m->vae, torchbe::SafeTensorsFile::open(m->folder.vae_weights), at::kFloat);
    m->text_encoder->eval();
    m->unet->eval();
    m->vae->eval();
    slot = std::move(m);
  }
  return *slot;
}

// Asserts closeness and records the figure in the test's XML output and on stdout.
#define FTDR_EXPECT_CLOSE(actual, expected, tol, what)                                                  \
  do {                                                                                                  \
    const double ftdr_diff_ = ::ftdr::test::max_abs_diff((actual), (expected));                         \
    std::cout << "[ max |diff| ] " << (what) << ": " << ftdr_diff_ << std::endl;                        \
    ::testing::Test::RecordProperty(std::string("max_abs_diff ") + (what), std::to_string(ftdr_diff_)); \
    EXPECT_LE(ftdr_diff_, (tol)) << (what);                                                             \
  } while (0)

}  // namespace ftdr::test
