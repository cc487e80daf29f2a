// ftdr/sdk/types.hpp: the plain data that crosses the plugin boundary.
//
// Requests come from users (CLI, config, later HTTP); GenerationParams is the request plus the
// runtime knobs that memory policies and recovery strategies change between attempts. Everything
// here is a value type: copy freely, no tensors (tensors stay inside the backend, see artifact.hpp).
// Both sides copy these structs and nest them (RuntimeOptions inside GenerationParams), so any
// change to their layout or enumerators is an ABI MAJOR bump (version.hpp).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ftdr::sdk {

// One text-to-image request, as the user asked for it.
struct GenerationRequest {
  std::string prompt;
  std::string negative_prompt;  // "" = unconditional
  int width = 512;              // pixels; a multiple of 8
  int height = 512;
  int steps = 20;                      // denoising steps, >= 1
  double cfg_scale = 7.5;              // classifier-free guidance; <= 1 disables the uncond pass
  std::string sampler = "default";     // "default" = the model's scheduler_config; else one of the
                                       // backend's ModelBackend::samplers() (libtorch: pndm, ddim,
                                       // euler, euler_a, dpmpp_2m, dpmpp_2m_karras, lms)
  std::uint64_t seed = 0;              // image i uses seed + i (identical alone or in a batch)
  int batch = 1;                       // images per request
  double eta = 0.0;                    // DDIM eta
  int clip_skip = 0;                   // 0/1 = last layer; 2 = penultimate, ...
  std::string output_dir = "outputs";  // where PNGs go
  std::string output_prefix;           // file name prefix; "" = job id
};

enum class Device { cpu, cuda };
enum class DType { f32, f16, bf16 };
enum class AttentionMode { naive, sliced, sdpa, automatic };

inline constexpr std::string_view to_string(Device d) noexcept { return d == Device::cpu ? "cpu" : "cuda"; }
inline constexpr std::string_view to_string(DType t) noexcept {
  return t == DType::f32 ? "f32" : t == DType::f16 ? "f16" : "bf16";
}
inline constexpr std::string_view to_string(AttentionMode m) noexcept {
  switch (m) {
    case AttentionMode::naive: return "naive";
    case AttentionMode::sliced: return "sliced";
    case AttentionMode::sdpa: return "sdpa";
    case AttentionMode::automatic: return "auto";
  }
  return "auto";
}

// Runtime choices that do not change what the user asked for, only how it is computed.
// Memory policies and recovery strategies edit these between phases and attempts.
struct RuntimeOptions {
  AttentionMode attention = AttentionMode::automatic;
  int attention_slice_size = 0;  // query rows per slice when sliced; 0 = backend's choice
  bool vae_tiling = false;       // decode tile by tile with the tile plan the host passes
  bool upcast_vae = false;       // run the VAE in f32 even when the run's dtype is f16/bf16
  // The dtype a phase computes in. The host starts it at ModelInfo::dtype; recovery widens it to
  // f32 after a numerical error, and the backend then casts the phase's component to f32 for that
  // phase only (back afterwards). A backend may run any other value at its own dtype.
  DType dtype = DType::f32;
};

// What one attempt actually runs. Starts equal to the request; recovery may degrade it.
struct GenerationParams {
  GenerationRequest request;
  RuntimeOptions options;
  int first_image = 0;            // index of the first image of this sub-batch within the request
  int batch = 1;                  // images in this sub-batch (recovery halves it)
  int width = 512, height = 512;  // may be lowered by degradation
};

// The phases a job passes through; also the recovery resume points.
enum class Phase { initializing, encoding, diffusion, decoding };
inline constexpr std::string_view to_string(Phase p) noexcept {
  switch (p) {
    case Phase::initializing: return "initializing";
    case Phase::encoding: return "encoding";
    case Phase::diffusion: return "diffusion";
    case Phase::decoding: return "decoding";
  }
  return "initializing";
}

// A model component the backend can place on the CPU or the device.
struct ComponentInfo {
  std::string name;         // "text_encoder", "unet", "vae"
  std::uint64_t bytes = 0;  // parameter + buffer bytes at the current dtype
  Device location = Device::cpu;
};

// Memory as the backend sees it. On CUDA from the caching allocator; on CPU, device_* are the
// host's and rss_* are the process's.
struct MemoryStats {
  Device device = Device::cpu;
  std::uint64_t total_bytes = 0;      // device total (CPU: physical RAM)
  std::uint64_t free_bytes = 0;       // device free  (CPU: MemAvailable)
  std::uint64_t allocated_bytes = 0;  // bytes in live tensors (CUDA); 0 on CPU
  std::uint64_t reserved_bytes = 0;   // bytes held by the caching allocator (CUDA)
  std::uint64_t peak_bytes = 0;       // peak allocated since the last reset (CUDA) / peak RSS (CPU)
  std::uint64_t rss_bytes = 0;        // process resident set
};

// An 8-bit RGB image, row-major, 3 bytes per pixel.
struct Image {
  int width = 0, height = 0;
  std::vector<std::uint8_t> rgb;
};

}  // namespace ftdr::sdk
