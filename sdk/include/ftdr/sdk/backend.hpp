// ftdr/sdk/backend.hpp: the model backend runs the networks; it is the only code touching tensors.
//
// The engine drives the backend object (one per process, shared by the job manager's workers,
// one attempt at a time) through the phases of a job:
//   load(path) once (a model folder or single file) → per job: validate → [place components] → encode →
//   denoise → decode.
// Intermediate results cross the boundary as opaque Artifacts (artifact.hpp) that the backend can
// save and load, which is how checkpoints and resume work. Calls come from one worker thread at a
// time (the engine serialises them per backend object); memory_stats() may come from any thread.
// Failures are thrown as Error with the right kind: out_of_memory for allocation failures,
// device_error for other device faults, model_error for bad model files, invalid_request for
// parameters the model cannot run (unknown sampler, size not a multiple of the VAE factor).
//
//   auto cond = backend.encode(params);
//   auto latents = backend.denoise(params, *cond, nullptr, observer);
//   auto images = backend.decode(params, *latents, nullptr);
//
// Values from the host: besides the keys of its own [backend.<name>] table, a backend's
// PluginContext::config holds (both already marked read, so a backend may ignore them):
//   host.device_budget_mb  integer, present when [memory] device_budget_mb > 0: the device memory
//                          jobs may use; a backend can enforce it (libtorch caps the CUDA caching
//                          allocator there). Read it as cfg.table(kHostTable)->get_int(kHostDeviceBudgetMb,
//                          0).
//   host.model_vae, host.model_config, host.model_prediction_type  strings, present when [model]
//                          vae / config / prediction_type (or --vae) are set: a separate VAE file, a
//                          diffusers folder whose configs describe a single-file model, and
//                          "epsilon" | "v_prediction" over the model's own. Paths are absolute.
//   faults                 the config's top-level [faults] table (deliberate failures, to test
//                          recovery), or absent. Its keys are the backend's own: any key the backend
//                          does not read is reported as unknown, like its own table's.
//
// Optional calls (version.hpp rule 2) have a default body and are asked only of backends built for
// the minor that added them: samplers() and set_stop_observer() (1.2).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "ftdr/sdk/artifact.hpp"
#include "ftdr/sdk/plugin.hpp"
#include "ftdr/sdk/tiling.hpp"
#include "ftdr/sdk/types.hpp"

namespace ftdr::sdk {

inline constexpr const char* kHostTable = "host";                                 // the host's values (above)
inline constexpr const char* kHostDeviceBudgetMb = "device_budget_mb";            // in kHostTable
inline constexpr const char* kHostModelVae = "model_vae";                         // in kHostTable
inline constexpr const char* kHostModelConfig = "model_config";                   // in kHostTable
inline constexpr const char* kHostModelPredictionType = "model_prediction_type";  // in kHostTable
inline constexpr const char* kFaultsTable = "faults";

// Returned by value (version.hpp rule 3: it may grow at the end; the host reads a field only from
// backends whose minor has it).
struct ModelInfo {
  std::string name;             // the model folder's name, for PNG metadata
  std::string family;           // "sd1", "sd2"
  std::string default_sampler;  // from scheduler_config.json: "pndm", "ddim", ...
  std::string prediction_type;  // "epsilon" or "v_prediction"
  int vae_scale_factor = 8;     // image pixels per latent pixel
  int latent_channels = 4;
  int default_size = 512;    // unet sample_size * vae_scale_factor
  DType dtype = DType::f32;  // ABI 1.1: the dtype the weights run in (after any fallback, e.g.
                             // f16 -> f32 on a CPU); every job's RuntimeOptions::dtype starts here.
                             // Ignored (taken as f32) from a backend built for ABI 1.0.
};

// Sent after every denoising step. The observer may throw Error (cancelled, timeout,
// numerical_error) to stop the run; the backend lets it propagate unchanged.
struct StepEvent {
  int step = 0;  // steps done, 1..total
  int total = 0;
  double step_ms = 0;                 // wall time of this step
  bool finite = true;                 // all latents finite (checked when health checks are on)
  const Artifact* latents = nullptr;  // the state after this step, owned by the backend and valid
                                      // only during on_step (see StepObserver)
};

// Implemented by the host, called by the backend from the thread running denoise(). It may grow at
// the end (version.hpp rule 1).
//
// Checkpoints are written from inside on_step: the host may call save_artifact(*event.latents, path)
// on this backend during on_step, on the thread running denoise() (the FTDR engine does, every
// `checkpoint_every` steps). A backend must therefore allow that re-entrant const call while
// denoise() is suspended in on_step, and keep event.latents valid and unchanged until on_step
// returns; the host keeps no pointer to it afterwards. No other backend call is made from on_step.
class StepObserver {
 public:
  virtual ~StepObserver() = default;
  virtual void on_step(const StepEvent& event) = 0;
  // ABI 1.2, appended (hosts implement this class; a host only loads plugins whose minor is <= its
  // own, so a 1.2 backend never calls it on a 1.1 host's observer). Called by the backend on the
  // thread running denoise() (or encode()/decode(), see ModelBackend::set_stop_observer) between network
  // blocks: UNet down/mid/up blocks, VAE decoder blocks and tiles, CLIP layers. It may throw Error(cancelled)
  // or Error(timeout) to stop the phase mid-step; the backend lets it propagate unchanged, as for on_step. It
  // must be cheap (it runs dozens of times per step) and must not touch the latents.
  virtual void check_stop() {}
};

class FTDR_SDK_INTERFACE ModelBackend : public Plugin {
 public:
  // Required, once, before anything else: reads the diffusers folder, weights to the CPU.
  virtual void load(const std::string& model_dir) = 0;
  virtual ModelInfo info() const = 0;
  // One line per fact for `ftdr` diagnostics: device, dtype, threads, BLAS library, versions.
  virtual std::vector<std::string> diagnostics() const = 0;

  // Placement. Components are named "text_encoder", "unet", "vae".
  virtual std::vector<ComponentInfo> components() const = 0;
  virtual void place(const std::string& component, Device where) = 0;
  virtual Device device() const = 0;  // where `place(..., Device::cuda)` puts things
  virtual MemoryStats memory_stats() const = 0;
  virtual void reset_peak_memory() = 0;
  virtual void release_cached_memory() = 0;  // empty the CUDA cache / malloc_trim

  // Estimated activation bytes (beyond weights) the phase needs at these parameters.
  virtual std::uint64_t estimate_activation_bytes(Phase phase, const GenerationParams& params) const = 0;

  // Throws Error(invalid_request) naming the field when the model cannot run these parameters.
  virtual void validate(const GenerationParams& params) const = 0;

  // Text → conditioning (prompt and negative prompt; independent of batch and first_image).
  virtual ArtifactPtr encode(const GenerationParams& params) = 0;
  // Conditioning → latents for images [first_image, first_image + batch). With `resume`, continues
  // from that latents artifact (its steps_done() steps already applied) instead of fresh noise.
  virtual ArtifactPtr denoise(const GenerationParams& params, const Artifact& conditioning,
                              const Artifact* resume, StepObserver& observer) = 0;
  // Latents → images. With a tile plan, decodes tile by tile and blends (tiling.hpp).
  virtual std::vector<Image> decode(const GenerationParams& params, const Artifact& latents,
                                    const TilePlan* tiles) = 0;

  // Checkpoints: an artifact saved by this backend loads back bit-identical.
  virtual void save_artifact(const Artifact& artifact, const std::string& path) const = 0;
  virtual ArtifactPtr load_artifact(const std::string& path) const = 0;

  // ---- Optional calls, appended in minor order (version.hpp rule 2). ----

  // ABI 1.2, optional: the sampler names this backend runs (GenerationRequest::sampler; "default",
  // the model's own, is always accepted and need not be listed). The host asks once after load()
  // and refuses a request naming another sampler, listing these. Empty (the default, and what the
  // host assumes of older backends) = the host checks no names and validate() alone decides.
  virtual std::vector<std::string> samplers() const { return {}; }

  // ABI 1.2, optional: the observer encode() and decode() ask between their network blocks
  // (StepObserver::check_stop, which may throw Error(cancelled)), as denoise() asks the one it is
  // given. The host sets it on the worker thread right before encode()/decode() and clears it
  // (nullptr) right after; the observer outlives the call. The default ignores it: such a backend
  // stops only at the end of encode()/decode(). denoise() uses its own argument, never this.
  virtual void set_stop_observer(StepObserver* observer) { (void)observer; }
};

template <>
struct plugin_interface<PluginKind::backend> {
  using type = ModelBackend;
};

}  // namespace ftdr::sdk
