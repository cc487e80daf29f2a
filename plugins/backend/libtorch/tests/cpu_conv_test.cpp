// cpu_conv2d: in inference on the CPU an image's convolution does not depend on the batch it is in
// (libtorch alone picks oneDNN for a batch and its own kernel for one small image), and the result
// is the module's own convolution.
#include <gtest/gtest.h>

#include <c10/core/InferenceMode.h>

#include <vector>

#include "nn/cpu_conv.hpp"
#include "nn/winograd_conv.hpp"
#include "tests/thread_count.hpp"

namespace ftdr::test {
namespace {

using torchbe::Conv2d;
using torchbe::cpu_conv2d;

struct Shape {
  std::int64_t in, out, size, kernel, stride = 1;
};

Conv2d make_conv(const Shape& s) {
  return Conv2d(torch::nn::Conv2dOptions(s.in, s.out, s.kernel).stride(s.stride).padding(s.kernel / 2));
}

std::string describe(const Shape& s, std::int64_t image, std::int64_t batch) {
  return std::to_string(s.in) + "->" + std::to_string(s.out) + " k" + std::to_string(s.kernel) + " s" +
         std::to_string(s.stride) + " at " + std::to_string(s.size) + "x" + std::to_string(s.size) +
         ", image " + std::to_string(image) + " of " + std::to_string(batch) + ", " +
         std::to_string(at::get_num_threads()) + " threads";
}

// Every image of batches of 2 and 4 is bit for bit its result alone.
void expect_batch_invariant(const Shape& s, at::ScalarType dtype) {
  Conv2d conv = make_conv(s);
  conv->to(dtype);
  const at::Tensor x = at::randn({4, s.in, s.size, s.size}).to(dtype);
  std::vector<at::Tensor> alone;
  for (std::int64_t i = 0; i < 4; ++i) alone.push_back(cpu_conv2d(conv, x.slice(0, i, i + 1)));
  for (std::int64_t batch : {2, 4}) {
    const at::Tensor together = cpu_conv2d(conv, x.slice(0, 0, batch));
    for (std::int64_t i = 0; i < batch; ++i)
      EXPECT_TRUE(at::equal(together.slice(0, i, i + 1), alone[static_cast<std::size_t>(i)]))
          << describe(s, i, batch);
  }
}

// The tiny reference models' convolutions at 64x64 (latents 8x8 and 4x4, where libtorch alone takes
// its own kernel for one image and oneDNN for a batch), 1x1 ones (libtorch: its own kernel on one
// thread, oneDNN on two) and some of the SD-1.5 UNet's: its first convolution, a downsampling one,
// a skip-concatenating 1x1 shortcut, a 1x1 projection and a 3x3; at one and two threads.
TEST(CpuConv, AnImagesResultDoesNotDependOnTheBatch) {
  c10::InferenceMode inference;
  at::manual_seed(8);
  const std::vector<Shape> shapes = {
      {4, 32, 8, 3},        {32, 32, 8, 3, 2},  {64, 64, 8, 3},   {32, 64, 4, 3},  {96, 64, 4, 1},
      {32, 32, 8, 1},       {3, 32, 64, 3},     {64, 32, 64, 1},  {4, 320, 64, 3}, {320, 320, 64, 1},
      {640, 640, 16, 3, 2}, {2560, 1280, 8, 1}, {320, 320, 16, 3}};
  for (int threads : {1, 2}) {
    ThreadCount count(threads);
    for (const Shape& s : shapes) expect_batch_invariant(s, at::kFloat);
  }
}

// On 16 threads oneDNN's 1x1 convolutions at 16x16 are not batch-invariant (the tiny UNet's at
// 256x256 among them), so there every image is its own convolution again.
TEST(CpuConv, ManyThreadsKeepAnImagesResult) {
  c10::InferenceMode inference;
  at::manual_seed(12);
  ThreadCount count(16);
  for (const Shape& s : {Shape{128, 64, 16, 1}, Shape{96, 64, 16, 1}}) expect_batch_invariant(s, at::kFloat);
}

// bfloat16 keeps the per-image route: libtorch runs every image alone.
TEST(CpuConv, Bfloat16ImagesDoNotDependOnTheBatchEither) {
  c10::InferenceMode inference;
  at::manual_seed(10);
  for (const Shape& s : {Shape{4, 32, 8, 3}, Shape{64, 64, 8, 3}, Shape{32, 32, 8, 1}})
    expect_batch_invariant(s, at::kBFloat16);
}

TEST(CpuConv, IsTheModulesConvolution) {
  at::manual_seed(9);
  Conv2d conv = make_conv({8, 16, 12, 3});
  const at::Tensor x = at::randn({3, 8, 12, 10});
  const at::Tensor expected = conv(x);
  {
    c10::InferenceMode inference;
    const at::Tensor got = cpu_conv2d(conv, x);
    ASSERT_EQ(got.sizes(), expected.sizes());
    EXPECT_LE((got - expected).abs().max().item<double>(), 1e-5);
    // One image: oneDNN as in a batch, where libtorch alone may take its own kernel (other rounding).
    EXPECT_LE((cpu_conv2d(conv, x.slice(0, 0, 1)) - conv(x.slice(0, 0, 1))).abs().max().item<double>(), 1e-5);
  }
  EXPECT_TRUE(at::equal(cpu_conv2d(conv, x), expected));  // grad mode (training): one batched call
}

// A strided, unpadded (VAE encoder's downsampling) and a bias-free convolution are the module's too.
TEST(CpuConv, StridesAndBiasesAreTheModules) {
  at::manual_seed(11);
  Conv2d down(torch::nn::Conv2dOptions(8, 8, 3).stride(2));
  Conv2d no_bias(torch::nn::Conv2dOptions(8, 4, 3).padding(1).bias(false));
  const at::Tensor x = at::randn({2, 8, 13, 13});
  for (Conv2d* conv : {&down, &no_bias}) {
    const at::Tensor expected = (*conv)(x);
    c10::InferenceMode inference;
    const at::Tensor got = cpu_conv2d(*conv, x);
    ASSERT_EQ(got.sizes(), expected.sizes());
    EXPECT_LE((got - expected).abs().max().item<double>(), 1e-5);
  }
}

// An image of more than 64 MiB (the SD VAE decoder's last levels) is convolved in bands of output
// rows: the module's convolution, with the zero padding at the top and bottom edges only, for a
// 3x3 padded, a 3x3 unpadded and a bias-free 1x1 convolution, on one and two threads.
TEST(CpuConv, ALargeImageInBandsIsTheModulesConvolution) {
  at::manual_seed(12);
  c10::InferenceMode inference;
  const at::Tensor x = at::randn({2, 64, 520, 512});  // 68 MiB per image: 3 bands of 63 rows and a part
  struct Case {
    Conv2d conv;
    std::int64_t padding;
  };
  // (3x3 with padding 1 is Winograd's where the CPU has AVX2: the next test; 5x5 takes its place.)
  std::vector<Case> cases{{Conv2d(torch::nn::Conv2dOptions(64, 8, 3).padding(1)), 1},
                          {Conv2d(torch::nn::Conv2dOptions(64, 8, 5).padding(2)), 2},
                          {Conv2d(torch::nn::Conv2dOptions(64, 8, 3)), 0},
                          {Conv2d(torch::nn::Conv2dOptions(64, 8, 1).bias(false)), 0}};
  for (int threads : {1, 2}) {
    ThreadCount count(threads);
    for (Case& c : cases) {
      if (c.conv->weight.size(2) == 3 && c.padding == 1 && torchbe::winograd_conv_available()) continue;
      const at::Tensor bias = c.conv->bias;
      const at::Tensor one_call = at::mkldnn_convolution(
          x, c.conv->weight, bias.defined() ? c10::optional<at::Tensor>(bias) : c10::nullopt,
          {c.padding, c.padding}, {1, 1}, {1, 1}, 1);
      const at::Tensor banded = cpu_conv2d(c.conv, x);
      ASSERT_EQ(banded.sizes(), one_call.sizes());
      // Bit for bit on the machines measured (oneDNN 2.6, AVX2); float32 rounding is what is promised.
      EXPECT_LE((banded - one_call).abs().max().item<double>(), 1e-5)
          << c.conv->weight.size(2) << "x" << c.conv->weight.size(3) << " conv, padding " << c.padding << ", "
          << threads << " threads";
      EXPECT_TRUE(at::equal(banded, one_call)) << "(not bit for bit: say so in nn/cpu_conv.cpp) "
                                               << c.conv->weight.size(2) << "x" << c.conv->weight.size(3);
    }
  }
}

// A 3x3 convolution (padding 1) of an image of 8 MiB and 64x64 pixels or more is Winograd's
// F(2x2, 3x3) where the CPU has AVX2 and FMA: each image's result is winograd_conv3x3's bit for bit,
// whatever the batch and the threads, and within float32 rounding of oneDNN's direct one. Below the
// size it is oneDNN's.
TEST(CpuConv, ALargeImages3x3ConvolutionIsWinograds) {
  if (!torchbe::winograd_conv_available()) GTEST_SKIP() << "this CPU has no AVX2 and FMA: no Winograd";
  at::manual_seed(13);
  c10::InferenceMode inference;
  Conv2d conv(torch::nn::Conv2dOptions(128, 16, 3).padding(1));
  const at::Tensor x = at::randn({2, 128, 128, 128});  // 8 MiB and 16384 pixels per image
  const c10::optional<at::Tensor> bias(conv->bias);
  const at::Tensor direct = at::mkldnn_convolution(x, conv->weight, bias, {1, 1}, {1, 1}, {1, 1}, 1);
  at::Tensor first;
  for (int threads : {1, 2}) {
    ThreadCount count(threads);
    const at::Tensor together = cpu_conv2d(conv, x);
    if (!first.defined()) first = together;
    EXPECT_TRUE(at::equal(together, first)) << "2 threads against 1";
    for (std::int64_t i = 0; i < 2; ++i) {
      at::Tensor winograd = at::empty({1, 16, 128, 128});
      ASSERT_TRUE(torchbe::winograd_conv3x3(x.slice(0, i, i + 1), conv->weight, bias, winograd));
      EXPECT_TRUE(at::equal(together.slice(0, i, i + 1), winograd))
          << "image " << i << ", " << threads << " threads";
      EXPECT_TRUE(at::equal(cpu_conv2d(conv, x.slice(0, i, i + 1)), winograd)) << "image " << i << " alone";
    }
    const double scale = direct.abs().max().item<double>();
    EXPECT_LE((together - direct).abs().max().item<double>(), 2e-6 * scale) << "against oneDNN's direct one";
    EXPECT_FALSE(at::equal(together, direct)) << "Winograd's rounding is not the direct sum's: was it used?";
  }
  // Half the pixels (4 MiB): oneDNN's, bit for bit.
  const at::Tensor half = x.slice(2, 0, 64).contiguous();
  EXPECT_TRUE(at::equal(cpu_conv2d(conv, half),
                        at::mkldnn_convolution(half, conv->weight, bias, {1, 1}, {1, 1}, {1, 1}, 1)));
  // winograd = false: oneDNN's for the large image too.
  torchbe::set_winograd_convs(false);
  const at::Tensor off = cpu_conv2d(conv, x);
  torchbe::set_winograd_convs(true);
  EXPECT_TRUE(at::equal(off, direct)) << "winograd = false";
}

}  // namespace
}  // namespace ftdr::test