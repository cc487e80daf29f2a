// cpu_conv2d: in inference on the CPU an image's convolution does not depend on the batch it is in
// (libtorch alone picks oneDNN for a batch and its own kernel for one small image), and the result
// is the module's own convolution.
#include <gtest/gtest.h>

#include <c10/core/InferenceMode.h>

#include "nn/conv_2d.hpp"
#include "nn/cpu_conv.hpp"

namespace ftdr::test {
namespace {

using torchbe::Conv2d;
using torchbe::cpu_conv2d;

Conv2d make_conv(std::int64_t in, std::int64_t out, std::int64_t kernel) {
  return Conv2d(torch::nn::Conv2dOptions(in, out, kernel).padding(kernel / 2));
}

// The tiny reference VAE's and UNet's convolutions at 64x64 (latents 8x8 and 4x4), and a 1x1 one.
TEST(CpuConv, AnImagesResultDoesNotDependOnTheBatch) {
  c10::InferenceMode inference;
  at::manual_seed(8);
  struct Shape {
    std::int64_t in, out, size, kernel;
  };
  for (const Shape s : {Shape{4, 64, 8, 3}, Shape{64, 64, 8, 3}, Shape{32, 64, 4, 3}, Shape{32, 32, 8, 1}}) {
    Conv2d conv = make_conv(s.in, s.out, s.kernel);
    for (std::int64_t batch : {2, 4}) {
      const at::Tensor x = at::randn({batch, s.in, s.size, s.size});
      const at::Tensor together = cpu_conv2d(conv, x);
      for (std::int64_t i = 0; i < batch; ++i) {
        EXPECT_TRUE(at::equal(together.slice(0, i, i + 1), cpu_conv2d(conv, x.slice(0, i, i + 1))))
            << s.in << "->" << s.out << " at " << s.size << "x" << s.size << ", image " << i << " of "
            << batch;
      }
    }
  }
}

TEST(CpuConv, IsTheModulesConvolution) {
  at::manual_seed(9);
  Conv2d conv = make_conv(8, 16, 3);
  const at::Tensor x = at::randn({3, 8, 12, 10});
  const at::Tensor expected = conv(x);
  {
    c10::InferenceMode inference;
    const at::Tensor got = cpu_conv2d(conv, x);
    ASSERT_EQ(got.sizes(), expected.sizes());
    EXPECT_LE((got - expected).abs().max().item<double>(), 1e-5);
    EXPECT_TRUE(at::equal(cpu_conv2d(conv, x.slice(0, 0, 1)), conv(x.slice(0, 0, 1))));  // one image: as is
  }
  EXPECT_TRUE(at::equal(cpu_conv2d(conv, x), expected));  // grad mode (training): one batched call
}

}  // namespace
}  // namespace ftdr::test
