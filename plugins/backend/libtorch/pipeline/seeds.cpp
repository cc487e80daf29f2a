#include "pipeline/seeds.hpp"

#include <ATen/CPUGeneratorImpl.h>

#include <mutex>

#include "ftdr/sdk/error.hpp"

namespace ftdr::torchbe {

at::Tensor initial_latents(uint64_t seed, int first_image, int batch, int channels, int h, int w) {
  NoiseSource source(seed, first_image, batch);
  return source.draw({batch, channels, h, w});
}

NoiseSource::NoiseSource(uint64_t seed, int first_image, int batch) {
  if (batch < 1)
    throw sdk::Error(sdk::ErrorKind::invalid_request, "batch: expected >= 1, got " + std::to_string(batch));
  for (int k = 0; k < batch; ++k) {
    // Unsigned wrap-around is intended: seed 2^64-1 for image 1 continues at 0.
    generators_.push_back(at::detail::createCPUGenerator(seed + static_cast<uint64_t>(first_image + k)));
  }
}

at::Tensor NoiseSource::draw(at::IntArrayRef shape) {
  if (shape.empty() || shape[0] != batch()) {
    throw sdk::Error(sdk::ErrorKind::internal,
                     "noise draw: shape[0] must be the batch (" + std::to_string(batch()) + ")");
  }
  std::vector<int64_t> one(shape.begin(), shape.end());
  one[0] = 1;
  std::vector<at::Tensor> parts;
  for (auto& gen : generators_) {
    parts.push_back(at::randn(one, gen, at::TensorOptions().dtype(at::kFloat)));
  }
  return parts.size() == 1 ? parts[0] : at::cat(parts, 0);
}

std::vector<std::pair<std::string, at::Tensor>> NoiseSource::state() const {
  std::vector<std::pair<std::string, at::Tensor>> st;
  for (size_t k = 0; k < generators_.size(); ++k) {
    auto gen = generators_[k];
    std::lock_guard<std::mutex> lock(gen.mutex());
    st.emplace_back("generator." + std::to_string(k), gen.get_state());
  }
  return st;
}

void NoiseSource::load_state(const std::vector<std::pair<std::string, at::Tensor>>& st) {
  for (size_t k = 0; k < generators_.size(); ++k) {
    const std::string name = "generator." + std::to_string(k);
    const at::Tensor* found = nullptr;
    for (const auto& [key, value] : st) {
      if (key == name) found = &value;
    }
    if (!found) throw sdk::Error(sdk::ErrorKind::internal, "noise state: entry '" + name + "' missing");
    try {
      std::lock_guard<std::mutex> lock(generators_[k].mutex());
      generators_[k].set_state(found->to(at::kCPU).contiguous());
    } catch (const c10::Error& e) {
      throw sdk::Error(
          sdk::ErrorKind::internal,
          "noise state: entry '" + name + "' is not a CPU generator state: " + e.what_without_backtrace());
    }
  }
}

}  // namespace ftdr::torchbe
