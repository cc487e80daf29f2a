// tools/scene_batch.cpp
#include "scene_batch.hpp"

#include <ATen/CPUGeneratorImpl.h>

#include <cstring>

namespace ftdr::demo {

namespace {
std::uint64_t mix(std::uint64_t seed, std::int64_t step, int stream) {
  // splitmix64 of the three numbers: neighbouring steps get unrelated streams.
  std::uint64_t z = seed * 0x9E3779B97F4A7C15ull + static_cast<std::uint64_t>(step) * 0xBF58476D1CE4E5B9ull +
                    static_cast<std::uint64_t>(stream) * 0x94D049BB133111EBull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
}  // namespace

at::Tensor images_to_tensor(const std::vector<Sample>& samples) {
  const int64_t b = static_cast<int64_t>(samples.size());
  at::Tensor bytes = at::empty({b, kImageSize, kImageSize, 3}, at::kByte);
  for (int64_t i = 0; i < b; ++i)
    std::memcpy(bytes[i].data_ptr<std::uint8_t>(), samples[i].rgb.data(), samples[i].rgb.size());
  return bytes.permute({0, 3, 1, 2}).to(at::kFloat).div(127.5).sub(1.0).contiguous();
}

std::vector<std::uint8_t> tensor_to_rgb(const at::Tensor& image) {
  at::Tensor t = image.detach().to(at::kCPU, at::kFloat).clamp(-1, 1).add(1).mul(127.5).round();
  t = t.permute({1, 2, 0}).to(at::kByte).contiguous();
  const auto* p = t.data_ptr<std::uint8_t>();
  return std::vector<std::uint8_t>(p, p + t.numel());
}

at::Tensor encode_captions(const torchbe::CLIPTokenizer& tok, const std::vector<std::string>& captions) {
  at::Tensor ids = at::empty({static_cast<int64_t>(captions.size()), tok.max_length()}, at::kLong);
  for (std::size_t i = 0; i < captions.size(); ++i) {
    const auto row = tok.encode(captions[i]);
    std::memcpy(ids[static_cast<int64_t>(i)].data_ptr<int64_t>(), row.data(), row.size() * sizeof(int64_t));
  }
  return ids;
}

std::vector<Sample> training_batch(std::uint64_t seed, std::int64_t step, int batch) {
  SceneGenerator gen(mix(seed, step, 0));
  std::vector<Sample> out;
  out.reserve(batch);
  for (int i = 0; i < batch; ++i) out.push_back(gen.next(Split::train));
  return out;
}

at::Generator step_generator(std::uint64_t seed, std::int64_t step, int stream) {
  return at::make_generator<at::CPUGeneratorImpl>(mix(seed, step, stream + 1));
}

}  // namespace ftdr::demo
