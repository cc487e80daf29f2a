// bench/conv3x3_bench.cpp (ftdr_bench_conv3x3): Winograd F(2x2, 3x3) (nn/winograd_conv.hpp) against
// oneDNN's direct convolution (at::mkldnn_convolution, what libtorch and so diffusers run on the
// CPU) on the 3x3 shapes of the SD VAE decoder and UNets, one image, random numbers.
//
//   ftdr_bench_conv3x3 [--runs N] [--threads N]
//
// Each shape: the two interleaved, --runs (default 5) timed calls each after one untimed; prints
// the medians, the ratio and the direct call's GFLOP/s (2 * C * K * 9 * H * W per call), and the
// largest difference between the two results against the result's largest magnitude. The shapes
// below nn/cpu_conv.cpp's Winograd thresholds are there to show why they are where they are.
// Asserts nothing.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "nn/winograd_conv.hpp"

namespace {

using Clock = std::chrono::steady_clock;

struct Shape {
  const char* where;
  std::int64_t in, out, size;
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

template <typename F>
double seconds(F&& f) {
  const auto start = Clock::now();
  f();
  return std::chrono::duration<double>(Clock::now() - start).count();
}

int flag_value(int argc, char** argv, const char* name, int fallback) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], name) == 0) return std::atoi(argv[i + 1]);
  }
  return fallback;
}

}  // namespace

int main(int argc, char** argv) {
  const int runs = std::max(1, flag_value(argc, argv, "--runs", 5));
  const int threads = flag_value(argc, argv, "--threads", 0);
  if (threads > 0) at::set_num_threads(threads);
  if (!ftdr::torchbe::winograd_conv_available()) {
    std::printf("this CPU has no AVX2 and FMA: winograd_conv3x3 is not used here, nothing to compare\n");
    return 0;
  }
  c10::InferenceMode inference;
  at::manual_seed(0);
  const std::vector<Shape> shapes{{"SD VAE decoder, 512x512 image", 128, 128, 512},
                                  {"SD VAE decoder, 512x512 image", 256, 128, 512},
                                  {"SD VAE decoder, 512x512 image", 256, 256, 256},
                                  {"SD VAE decoder, 512x512 image", 512, 256, 256},
                                  {"SD VAE decoder, 512x512 image", 512, 512, 128},
                                  {"SD VAE decoder, 512x512 image", 512, 512, 64},
                                  {"SDXL UNet, 1024x1024 image", 320, 320, 128},
                                  {"SD-1.5 UNet, 512x512 image (below)", 320, 320, 64},
                                  {"SD-1.5 UNet, 512x512 image (below)", 640, 640, 32},
                                  {"SD-1.5 UNet, 512x512 image (below)", 1280, 1280, 16}};
  std::printf("%d intra-op threads, median of %d\n", at::get_num_threads(), runs);
  std::printf("%-36s %5s %5s %5s  %10s %10s %6s %9s %9s\n", "shape", "C", "K", "HxW", "direct s",
              "winograd s", "ratio", "GFLOP/s", "max diff");
  for (const Shape& s : shapes) {
    const at::Tensor x = at::randn({1, s.in, s.size, s.size});
    const at::Tensor weight = at::randn({s.out, s.in, 3, 3}) / std::sqrt(9.0 * s.in);
    const at::Tensor bias = at::randn({s.out});
    at::Tensor direct, winograd = at::empty({1, s.out, s.size, s.size});
    const auto run_direct = [&] {
      direct = at::mkldnn_convolution(x, weight, bias, {1, 1}, {1, 1}, {1, 1}, 1);
    };
    const auto run_winograd = [&] { ftdr::torchbe::winograd_conv3x3(x, weight, bias, winograd); };
    run_direct();
    run_winograd();
    std::vector<double> d, w;
    for (int r = 0; r < runs; ++r) {
      d.push_back(seconds(run_direct));
      w.push_back(seconds(run_winograd));
    }
    const double flop = 2.0 * s.in * s.out * 9 * s.size * s.size;
    const double diff = (direct - winograd).abs().max().item<double>() / direct.abs().max().item<double>();
    std::printf("%-36s %5ld %5ld %5ld  %10.4f %10.4f %6.2f %9.0f %9.1e\n", s.where, s.in, s.out, s.size,
                median(d), median(w), median(w) / median(d), flop / median(d) / 1e9, diff);
  }
  return 0;
}
