#include "ftdr/framework/jobs/job_work.hpp"

#include <filesystem>

#include <spdlog/spdlog.h>

namespace ftdr::framework {
namespace {

// Latents made with `a` can continue or be decoded with `b`: same sub-batch, size and sampling.
bool latents_compatible(const sdk::GenerationParams& a, const sdk::GenerationParams& b) {
  const auto& ra = a.request;
  const auto& rb = b.request;
  return a.first_image == b.first_image && a.batch == b.batch && a.width == b.width && a.height == b.height &&
         ra.seed == rb.seed && ra.steps == rb.steps && ra.sampler == rb.sampler && ra.eta == rb.eta &&
         ra.cfg_scale == rb.cfg_scale && ra.prompt == rb.prompt && ra.negative_prompt == rb.negative_prompt &&
         ra.clip_skip == rb.clip_skip;
}

// Conditioning encoded with `a` serves `b`: same prompts, clip_skip and dtype.
bool conditioning_compatible(const sdk::GenerationParams& a, const sdk::GenerationParams& b) {
  return a.request.prompt == b.request.prompt && a.request.negative_prompt == b.request.negative_prompt &&
         a.request.clip_skip == b.request.clip_skip && a.options.dtype == b.options.dtype;
}

// The two halves of a sub-batch (the first gets the odd image); one piece when batch < 2.
std::vector<sdk::GenerationParams> split_in_halves(const sdk::GenerationParams& params) {
  if (params.batch < 2) return {params};
  sdk::GenerationParams first = params, second = params;
  first.batch = (params.batch + 1) / 2;
  second.first_image = params.first_image + first.batch;
  second.batch = params.batch - first.batch;
  return {first, second};
}

void remove_file(const std::string& path) {
  std::error_code ec;
  std::filesystem::remove(path, ec);
}

}  // namespace

void JobWork::start(const sdk::GenerationParams& initial) {
  if (started()) return;
  sub_batches_.push_back(initial);
  last_params_ = initial;
}

void JobWork::ran_with(const sdk::GenerationParams& params) {
  sub_batches_.front() = params;
  last_params_ = params;
}

void JobWork::finish_sub_batch(std::vector<sdk::Image> images, std::vector<std::string> written) {
  const int first = current().first_image;
  if (!written.empty()) written_[first] = std::move(written);
  images_[first] = std::move(images);
  drop_latents();
  sub_batches_.erase(sub_batches_.begin());
}

void JobWork::set_conditioning(sdk::ArtifactPtr conditioning, const sdk::GenerationParams& encoded_with) {
  conditioning_ = std::move(conditioning);
  conditioning_params_ = encoded_with;
}

int JobWork::latents_steps() const { return latents_ ? latents_->steps_done() : -1; }

void JobWork::complete_latents(sdk::ArtifactPtr latents) {
  latents_ = std::move(latents);
  latents_complete_ = true;
}

void JobWork::drop_latents() {
  latents_.reset();
  latents_complete_ = false;
  if (!checkpoint_path_.empty()) remove_file(checkpoint_path_);
  checkpoint_path_.clear();
  checkpoint_steps_ = 0;
}

void JobWork::record_checkpoint(const std::string& path, int steps) {
  if (!checkpoint_path_.empty() && checkpoint_path_ != path) remove_file(checkpoint_path_);
  checkpoint_path_ = path;
  checkpoint_steps_ = steps;
  checkpoints_.push_back(path);
}

void JobWork::forget_job_dir() {
  job_dir_.clear();
  checkpoint_path_.clear();
  checkpoint_steps_ = 0;
}

void JobWork::retry_with(const sdk::RecoveryDecision& d) {
  ++attempt_;
  if (sub_batches_.empty()) return;
  const sdk::GenerationParams failed = sub_batches_.front();
  const bool split = d.split_batch && d.params.batch >= 2;
  if (d.split_batch && !split) {
    spdlog::warn("recovery asked to split a batch of {}; retrying it whole", d.params.batch);
  }
  if (split || !latents_compatible(failed, d.params)) drop_latents();
  if (d.resume_phase == sdk::Phase::initializing) {
    latents_.reset();
    if (checkpoint_path_.empty()) latents_complete_ = false;
  }
  if (d.resume_phase <= sdk::Phase::encoding ||
      (conditioning_ && !conditioning_compatible(conditioning_params_, d.params))) {
    conditioning_.reset();
  }
  // Sub-batches after the failing one keep their place in the request but run with the new settings.
  for (std::size_t i = 1; i < sub_batches_.size(); ++i) {
    sdk::GenerationParams& s = sub_batches_[i];
    const int first = s.first_image, batch = s.batch;
    s = d.params;
    s.first_image = first;
    s.batch = batch;
  }
  std::vector<sdk::GenerationParams> head =
      split ? split_in_halves(d.params) : std::vector<sdk::GenerationParams>{d.params};
  if (!split && d.params.first_image == failed.first_image && d.params.batch >= 1 &&
      d.params.batch < failed.batch) {
    sdk::GenerationParams rest = d.params;
    rest.first_image = d.params.first_image + d.params.batch;
    rest.batch = failed.batch - d.params.batch;
    head.push_back(rest);
  }
  sub_batches_.erase(sub_batches_.begin());
  sub_batches_.insert(sub_batches_.begin(), head.begin(), head.end());
  if (d.degraded) degraded_ = true;
}

std::vector<sdk::Image> JobWork::images_in_order() const {
  std::vector<sdk::Image> out;
  for (const auto& [first, images] : images_) out.insert(out.end(), images.begin(), images.end());
  return out;
}

std::vector<std::string> JobWork::written_in_order() const {
  std::vector<std::string> out;
  for (const auto& [first, paths] : written_) out.insert(out.end(), paths.begin(), paths.end());
  return out;
}

void JobWork::release_artifacts() {
  conditioning_.reset();
  latents_.reset();
  images_.clear();
  written_.clear();
}

}  // namespace ftdr::framework
