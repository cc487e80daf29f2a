// adapter/backend_config.hpp: the [backend.libtorch] table, read once when the plugin is created.
//
//   [backend.libtorch]
//   device = "auto"          # "cpu" | "cuda" | "auto" (cuda when a CUDA device is present, else cpu)
//   dtype = "f32"            # "f32" | "f16" | "bf16" — the dtype weights and activations run in
//   threads = 0              # at::set_num_threads; 0 = the intra-op / BLAS split measured fastest
//                            # for the model's size (threads/thread_setup.hpp), chosen at load()
//   attention = "auto"       # "auto" | "naive" | "sliced" | "sdpa": the default when a job's
//                            # RuntimeOptions leave attention on "auto"
//   attention_slice_size = 0 # query rows per slice for "sliced"; 0 = the backend's choice
//   health_check = true      # check latents for NaN/Inf after every step (StepEvent::finite)
//   cpu_block_cache = true   # libtorch's CPU allocator keeps freed blocks of 32 MiB or more for the
//                            # next tensor that fits (memory/cpu_block_cache.hpp); process-wide:
//                            # the first backend created with it on installs it for the process
//   winograd = true          # large images' 3x3 convolutions (the VAE decoder's) as Winograd's
//                            # F(2x2, 3x3) where the CPU has AVX2 + FMA (nn/winograd_conv.hpp): ~1.5x
//                            # faster, rounding differs from oneDNN's direct kernel in the last
//                            # bits; false = the direct kernel everywhere. Process-wide: each backend
//                            # created sets it
//   prompt_syntax = "diffusers"  # "diffusers": plain text truncated to 77 tokens (diffusers' pipeline);
//                            # "a1111": AUTOMATIC1111's (emphasis:1.2), [less], BREAK and 75-token
//                            # chunks (pipeline/prompt_encoding.hpp, docs/prompts.md)
//   prompt_comma_backtrack = 20  # a1111: a chunk about to be cut moves the words after its last
//                            # comma, when that comma is among its last N tokens, to the next chunk
//                            # (A1111's comma_padding_backtrack); 0..74, 0 = never
//   lora_dir = ""            # the LoRA folder: <lora:NAME:0.8> in a prompt reads NAME.safetensors
//                            # there (lora/lora_scope.hpp); "" = none (a LoRA tag is then an
//                            # error); relative to the working directory
//
// Passed by the host, not written in the file (framework/plugin_set.hpp attaches them as the
// `host` sub-table of this table):
//   host.model_vae, host.model_config, host.model_prediction_type   [model] vae, config,
//                            prediction_type (and --vae): how load() reads the model (io/single_file.hpp)
//   host.device_budget_mb    [memory] device_budget_mb; on CUDA the backend caps its caching
//                            allocator there (memory_stats.h: cap_device_memory), so an overrun is a
//                            real out_of_memory that recovery handles; on the CPU it is only shown
//                            by diagnostics() (the memory policies enforce it there)
//
// Choices written down here:
//   - device "cuda" on a machine without CUDA is a configuration error (invalid_request), not a
//     silent fallback: the user asked for a GPU and would otherwise get a 100x slower run.
//   - dtype "f16" on the CPU falls back to f32 with a warning (many CPU kernels lack f16 in
//     libtorch 1.13, and half on CPU is slower than f32 anyway); "bf16" is allowed on the CPU.
//   - Every key is read through the ConfigView, so the host reports any other key as unknown.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "ftdr/sdk/config_view.hpp"
#include "ftdr/sdk/types.hpp"
#include "io/model_folder.hpp"
#include "pipeline/prompt_encoding.hpp"

namespace ftdr::torchbe {

struct BackendConfig {
  at::Device device = at::kCPU;        // resolved: never "auto"
  sdk::DType dtype = sdk::DType::f32;  // resolved: f16 on CPU already -> f32
  int threads = 0;                     // 0 = measured at load() (threads/thread_setup.hpp)
  sdk::AttentionMode attention = sdk::AttentionMode::automatic;
  int attention_slice_size = 0;
  bool health_check = true;
  bool cpu_block_cache = true;
  bool winograd = true;
  PromptSettings prompt;                  // prompt_syntax, prompt_comma_backtrack
  std::string lora_dir;                   // "" = no LoRA folder
  std::uint64_t device_budget_bytes = 0;  // host.device_budget_mb in bytes; 0 = none
  ModelOptions model_options;             // host.model_vae, host.model_config, host.model_prediction_type
  std::vector<std::string> warnings;      // fallbacks taken, for the logger
};

// Reads and checks every key; throws sdk::Error(invalid_request) via cfg.reject() on bad values.
// `cuda_available` is passed in so tests can exercise the "cuda requested, none present" path.
BackendConfig parse_backend_config(const sdk::ConfigView& cfg, bool cuda_available);

// at::ScalarType for a run dtype.
at::ScalarType to_scalar_type(sdk::DType dtype);

// "auto" | "naive" | "sliced" | "sdpa" -> mode; false when unknown.
bool parse_attention_mode(const std::string& text, sdk::AttentionMode& out);

}  // namespace ftdr::torchbe

#include "nn/attention.hpp"

namespace ftdr::torchbe {

// The attention a phase runs with: the job's RuntimeOptions win; "auto" there means the config's
// choice; "auto" in both means sdpa where this libtorch has it (>= 2), else naive. The slice size is
// the job's when > 0, else the config's (0 = half the query rows).
AttentionSettings resolve_attention(const BackendConfig& config, const sdk::RuntimeOptions& options);

}  // namespace ftdr::torchbe
