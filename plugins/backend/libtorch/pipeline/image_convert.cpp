#include "pipeline/image_convert.hpp"

#include <cstring>

#include "ftdr/sdk/error.hpp"

namespace ftdr::torchbe {

// Ref: diffusers VaeImageProcessor.denormalize / pt_to_numpy.
at::Tensor decoded_to_unit(const at::Tensor& decoded) {
  if (decoded.dim() != 4 || decoded.size(1) != 3) {
    throw sdk::Error(sdk::ErrorKind::internal,
                     "image: expected decoded [B, 3, H, W], got " + std::to_string(decoded.dim()) + " dims");
  }
  const at::Tensor x = decoded.to(at::kFloat);
  return (x / 2 + 0.5).clamp(0, 1).permute({0, 2, 3, 1}).to(at::kCPU).contiguous();
}

// Ref: diffusers VaeImageProcessor.numpy_to_pil: (images * 255).round().astype("uint8").
std::vector<sdk::Image> unit_to_rgb8(const at::Tensor& unit_nhwc) {
  const at::Tensor bytes = (unit_nhwc.to(at::kCPU).to(at::kFloat) * 255).round().to(at::kByte).contiguous();
  std::vector<sdk::Image> images;
  const int64_t h = bytes.size(1), w = bytes.size(2);
  const size_t per_image = static_cast<size_t>(h * w * 3);
  for (int64_t b = 0; b < bytes.size(0); ++b) {
    sdk::Image img;
    img.height = static_cast<int>(h);
    img.width = static_cast<int>(w);
    img.rgb.resize(per_image);
    std::memcpy(img.rgb.data(), bytes.data_ptr<uint8_t>() + b * static_cast<int64_t>(per_image), per_image);
    images.push_back(std::move(img));
  }
  return images;
}

}  // namespace ftdr::torchbe
