// plugins/backend/libtorch/tests/sdxl_test_support.hpp: the tiny SDXL pipeline of tests/data/tiny-sdxl
// (scripts/reference/sdxl.py) and its diffusers reference, loaded once per process.
#pragma once
#include <gtest/gtest.h>

#include <filesystem>
#include <memory>

#include "pipeline/loaded_model.hpp"
#include "pipeline/sdxl_prompt_encoding.hpp"
#include "sampler_test_util.hpp"

namespace ftdr::test {

inline std::filesystem::path sdxl_data_dir() {
  return std::filesystem::path(FTDR_SOURCE_DIR) / "plugins/backend/libtorch/tests/data";
}

struct TinySdxl {
  ModelReference ref;  // reference.json, reference.safetensors, scheduler_config.json
  torchbe::LoadedModel model;

  torchbe::SdxlTextEncoders encoders() {
    return {model.tokenizer, model.text_encoder, *model.tokenizer_2, model.text_encoder_2};
  }
};

// Loaded (once) at float32 from the folder, as the backend loads it.
inline TinySdxl& tiny_sdxl() {
  static std::unique_ptr<TinySdxl> slot;
  if (!slot) {
    slot = std::make_unique<TinySdxl>();
    slot->ref = ModelReference::load(sdxl_data_dir(), "tiny-sdxl");
    slot->model = torchbe::load_model(sdxl_data_dir() / "tiny-sdxl", at::kFloat);
  }
  return *slot;
}

}  // namespace ftdr::test
