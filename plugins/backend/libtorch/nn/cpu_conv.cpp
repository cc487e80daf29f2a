// nn/cpu_conv.cpp: see cpu_conv.h.
#include "nn/cpu_conv.hpp"

#include <c10/core/GradMode.h>

#include <vector>
#include "nn/conv_2d.hpp"

namespace ftdr::torchbe {

at::Tensor cpu_conv2d(Conv2d& conv, const at::Tensor& x) {
  const bool per_image = x.dim() == 4 && x.size(0) > 1 && x.device().is_cpu() && !c10::GradMode::is_enabled();
  if (!per_image) return conv(x);
  std::vector<at::Tensor> images;
  images.reserve(static_cast<std::size_t>(x.size(0)));
  for (std::int64_t s = 0; s < x.size(0); ++s) images.push_back(conv(x.slice(0, s, s + 1)));
  return at::cat(images, 0);
}

}  // namespace ftdr::torchbe
