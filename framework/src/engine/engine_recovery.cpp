#include "engine_recovery.hpp"

#include <filesystem>
#include <new>

#include <spdlog/spdlog.h>

namespace ftdr::framework::detail {

sdk::Failure classify_failure(std::exception_ptr error, sdk::Phase phase, int step) {
  sdk::Failure f;
  f.phase = phase;
  f.step = step;
  try {
    std::rethrow_exception(error);
  } catch (const sdk::Error& e) {
    f.kind = e.kind();
    f.message = e.what();
  } catch (const std::bad_alloc& e) {
    f.kind = sdk::ErrorKind::out_of_memory;
    f.message = std::string("out of memory (std::bad_alloc: ") + e.what() + ")";
  } catch (const std::exception& e) {
    f.kind = sdk::ErrorKind::internal;
    f.message = std::string("unexpected exception: ") + e.what();
  } catch (...) {
    f.kind = sdk::ErrorKind::internal;
    f.message = "unexpected exception of a non-standard type";
  }
  return f;
}

bool never_retried(sdk::ErrorKind kind) {
  return kind == sdk::ErrorKind::invalid_request || kind == sdk::ErrorKind::model_error ||
         kind == sdk::ErrorKind::cancelled;
}

bool latents_compatible(const sdk::GenerationParams& a, const sdk::GenerationParams& b) {
  const auto& ra = a.request;
  const auto& rb = b.request;
  return a.first_image == b.first_image && a.batch == b.batch && a.width == b.width &&
         a.height == b.height && ra.seed == rb.seed && ra.steps == rb.steps && ra.sampler == rb.sampler &&
         ra.eta == rb.eta && ra.cfg_scale == rb.cfg_scale && ra.prompt == rb.prompt &&
         ra.negative_prompt == rb.negative_prompt && ra.clip_skip == rb.clip_skip;
}

bool conditioning_compatible(const sdk::GenerationParams& a, const sdk::GenerationParams& b) {
  return a.request.prompt == b.request.prompt && a.request.negative_prompt == b.request.negative_prompt &&
         a.request.clip_skip == b.request.clip_skip && a.options.dtype == b.options.dtype;
}

std::vector<sdk::GenerationParams> split_in_halves(const sdk::GenerationParams& params) {
  if (params.batch < 2) return {params};
  sdk::GenerationParams first = params, second = params;
  first.batch = (params.batch + 1) / 2;
  second.first_image = params.first_image + first.batch;
  second.batch = params.batch - first.batch;
  return {first, second};
}

void drop_latents(JobWork& work) {
  work.latents.reset();
  work.latents_complete = false;
  if (!work.checkpoint_path.empty()) {
    std::error_code ec;
    std::filesystem::remove(work.checkpoint_path, ec);
  }
  work.checkpoint_path.clear();
  work.checkpoint_steps = 0;
}

void apply_decision(JobWork& work, const sdk::RecoveryDecision& d) {
  if (work.segments.empty()) return;
  const sdk::GenerationParams failed = work.segments.front();
  const bool split = d.split_batch && d.params.batch >= 2;
  if (d.split_batch && !split) {
    spdlog::warn("recovery asked to split a batch of {}; retrying it whole", d.params.batch);
  }
  if (split || !latents_compatible(failed, d.params)) drop_latents(work);
  if (d.resume_phase == sdk::Phase::initializing) {
    // A lost device context may have taken in-memory artifacts with it: keep only what is on disk.
    work.latents.reset();
    if (work.checkpoint_path.empty()) work.latents_complete = false;
  }
  if (d.resume_phase <= sdk::Phase::encoding ||
      (work.conditioning && !conditioning_compatible(work.conditioning_params, d.params))) {
    work.conditioning.reset();
  }
  // Sub-batches after the failing one keep their place in the request but run with the new settings.
  for (std::size_t i = 1; i < work.segments.size(); ++i) {
    sdk::GenerationParams& s = work.segments[i];
    const int first = s.first_image, batch = s.batch;
    s = d.params;
    s.first_image = first;
    s.batch = batch;
  }
  std::vector<sdk::GenerationParams> head = split ? split_in_halves(d.params)
                                                  : std::vector<sdk::GenerationParams>{d.params};
  // A strategy that shrinks the sub-batch without splitting it must not lose the other images:
  // they follow as one more sub-batch.
  if (!split && d.params.first_image == failed.first_image && d.params.batch >= 1 &&
      d.params.batch < failed.batch) {
    sdk::GenerationParams rest = d.params;
    rest.first_image = d.params.first_image + d.params.batch;
    rest.batch = failed.batch - d.params.batch;
    head.push_back(rest);
  }
  work.segments.erase(work.segments.begin());
  work.segments.insert(work.segments.begin(), head.begin(), head.end());
  if (d.degraded) work.degraded = true;
}

}  // namespace ftdr::framework::detail
