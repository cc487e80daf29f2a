// nn/each_image.hpp: an op run on a batch one image at a time, the results concatenated.
//
//   at::Tensor y = each_image(x, [&](const at::Tensor& image) { return conv(image); });
//
// Where libtorch's result for an image would depend on the batch (the kernel it picks, how it
// splits a sum between threads), running every image alone makes it the image's result alone. A
// single image is passed through as it is.
#pragma once
#include <ATen/ATen.h>

#include <vector>

namespace ftdr::torchbe {

template <typename Op>
at::Tensor each_image(const at::Tensor& x, Op op) {
  if (x.size(0) == 1) return op(x);
  std::vector<at::Tensor> images;
  images.reserve(static_cast<std::size_t>(x.size(0)));
  for (int64_t s = 0; s < x.size(0); ++s) images.push_back(op(x.slice(0, s, s + 1)));
  return at::cat(images, 0);
}

}  // namespace ftdr::torchbe
