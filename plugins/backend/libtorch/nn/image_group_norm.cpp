// nn/image_group_norm.cpp: see image_group_norm.hpp.
#include "nn/image_group_norm.hpp"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <vector>

namespace ftdr::torchbe {
namespace {

// Channels-last pixels per block of partial sums: fixed, so the order of the additions does not
// depend on how many threads share the blocks. 256 pixels of 512 channels are 512 KiB, a thread's
// share of work worth starting.
constexpr std::int64_t kPixelsPerBlock = 256;

// at::parallel_for's grain for items of `item` floats each: at least 32768 elements per task (libtorch's
// own at::internal::GRAIN_SIZE), so a small image (the tiny models' 32 channels at 32x32) runs on one
// thread instead of paying a thread hand-off per channel. How the work is split never changes the
// result.
constexpr std::int64_t kGrainElements = 32768;
std::int64_t grain(std::int64_t item) { return std::max<std::int64_t>(1, kGrainElements / item); }

struct ChannelSums {
  std::vector<double> sum, squares;  // per channel
  explicit ChannelSums(std::int64_t channels)
      : sum(static_cast<std::size_t>(channels)), squares(static_cast<std::size_t>(channels)) {}
};

// Contiguous image ([C][pixels]): each channel summed in a fixed order (kLanes interleaved running
// sums, which the compiler turns into vector adds, then the lanes in order), channels shared
// between threads.
constexpr std::int64_t kLanes = 8;

ChannelSums sums_contiguous(const float* x, std::int64_t pixels, std::int64_t channels) {
  ChannelSums out(channels);
  at::parallel_for(0, channels, grain(pixels), [&](std::int64_t first, std::int64_t last) {
    for (std::int64_t c = first; c < last; ++c) {
      const float* channel = x + c * pixels;
      double sum[kLanes] = {}, squares[kLanes] = {};
      std::int64_t p = 0;
      for (; p + kLanes <= pixels; p += kLanes)
        for (std::int64_t l = 0; l < kLanes; ++l) {
          const double v = channel[p + l];
          sum[l] += v;
          squares[l] += v * v;
        }
      for (std::int64_t l = 0; p < pixels; ++p, ++l) {
        const double v = channel[p];
        sum[l] += v;
        squares[l] += v * v;
      }
      for (std::int64_t l = 0; l < kLanes; ++l) {
        out.sum[c] += sum[l];
        out.squares[c] += squares[l];
      }
    }
  });
  return out;
}

// Channels-last image ([pixels][C]): per-channel partial sums of fixed blocks of pixels, shared
// between threads, then added in block order.
ChannelSums sums_channels_last(const float* x, std::int64_t pixels, std::int64_t channels) {
  const std::int64_t blocks = (pixels + kPixelsPerBlock - 1) / kPixelsPerBlock;
  std::vector<double> partial(static_cast<std::size_t>(blocks * 2 * channels), 0.0);
  at::parallel_for(0, blocks, grain(kPixelsPerBlock * channels), [&](std::int64_t first, std::int64_t last) {
    for (std::int64_t b = first; b < last; ++b) {
      double* sum = partial.data() + b * 2 * channels;
      double* squares = sum + channels;
      const std::int64_t end = std::min(pixels, (b + 1) * kPixelsPerBlock);
      for (std::int64_t p = b * kPixelsPerBlock; p < end; ++p) {
        const float* pixel = x + p * channels;
        for (std::int64_t c = 0; c < channels; ++c) {
          const double v = pixel[c];
          sum[c] += v;
          squares[c] += v * v;
        }
      }
    }
  });
  ChannelSums out(channels);
  for (std::int64_t b = 0; b < blocks; ++b)
    for (std::int64_t c = 0; c < channels; ++c) {
      out.sum[c] += partial[b * 2 * channels + c];
      out.squares[c] += partial[b * 2 * channels + channels + c];
    }
  return out;
}

// y = x * scale[c] + shift[c]: the group's mean and 1/std folded with the channel's weight and bias
// (libtorch's kernel applies the same form).
struct Affine {
  std::vector<float> scale, shift;
};

Affine group_affine(const ChannelSums& s, std::int64_t pixels, std::int64_t groups, const float* weight,
                    const float* bias, double eps) {
  const auto channels = static_cast<std::int64_t>(s.sum.size());
  const std::int64_t per_group = channels / groups;
  const double count = static_cast<double>(pixels * per_group);
  Affine a{std::vector<float>(s.sum.size()), std::vector<float>(s.sum.size())};
  for (std::int64_t g = 0; g < groups; ++g) {
    double sum = 0, squares = 0;
    for (std::int64_t c = g * per_group; c < (g + 1) * per_group; ++c) {
      sum += s.sum[c];
      squares += s.squares[c];
    }
    const double mean = sum / count;
    const double rstd = 1.0 / std::sqrt(std::max(squares / count - mean * mean, 0.0) + eps);
    for (std::int64_t c = g * per_group; c < (g + 1) * per_group; ++c) {
      const double w = weight ? weight[c] : 1.0;
      a.scale[c] = static_cast<float>(rstd * w);
      a.shift[c] = static_cast<float>((bias ? bias[c] : 0.0) - mean * rstd * w);
    }
  }
  return a;
}

void normalize_image(const float* x, float* out, bool channels_last, std::int64_t pixels,
                     std::int64_t channels, std::int64_t groups, const float* weight, const float* bias,
                     double eps) {
  const ChannelSums sums =
      channels_last ? sums_channels_last(x, pixels, channels) : sums_contiguous(x, pixels, channels);
  const Affine a = group_affine(sums, pixels, groups, weight, bias, eps);
  if (channels_last) {
    at::parallel_for(0, pixels, grain(channels), [&](std::int64_t first, std::int64_t last) {
      for (std::int64_t p = first; p < last; ++p) {
        const float* in = x + p * channels;
        float* o = out + p * channels;
        for (std::int64_t c = 0; c < channels; ++c) o[c] = in[c] * a.scale[c] + a.shift[c];
      }
    });
    return;
  }
  at::parallel_for(0, channels, grain(pixels), [&](std::int64_t first, std::int64_t last) {
    for (std::int64_t c = first; c < last; ++c) {
      const float* in = x + c * pixels;
      float* o = out + c * pixels;
      const float scale = a.scale[c], shift = a.shift[c];
      for (std::int64_t p = 0; p < pixels; ++p) o[p] = in[p] * scale + shift;
    }
  });
}

}  // namespace

bool image_group_norm_supports(const at::Tensor& x) {
  return x.device().is_cpu() && x.scalar_type() == at::kFloat && x.dim() == 4 &&
         (x.is_contiguous() || x.is_contiguous(at::MemoryFormat::ChannelsLast));
}

void image_group_norm(const at::Tensor& x, const at::Tensor& out, std::int64_t groups,
                      const at::Tensor& weight, const at::Tensor& bias, double eps) {
  TORCH_CHECK(image_group_norm_supports(x),
              "image_group_norm: expected a float32 CPU tensor [N, C, H, W], contiguous or channels-last");
  // A 4-D tensor can be both (one channel, or one pixel): it is then read as contiguous.
  const bool channels_last = !x.is_contiguous();
  TORCH_CHECK(out.sizes() == x.sizes() && out.scalar_type() == at::kFloat &&
                  (channels_last ? out.is_contiguous(at::MemoryFormat::ChannelsLast) : out.is_contiguous()),
              "image_group_norm: out must be float32 in x's shape and layout");
  const std::int64_t channels = x.size(1), pixels = x.size(2) * x.size(3);
  TORCH_CHECK(groups > 0 && channels % groups == 0, "image_group_norm: ", channels,
              " channels do not split into ", groups, " groups");
  const at::Tensor w = weight.defined() ? weight.contiguous() : weight;
  const at::Tensor b = bias.defined() ? bias.contiguous() : bias;
  const float* wp = w.defined() ? w.data_ptr<float>() : nullptr;
  const float* bp = b.defined() ? b.data_ptr<float>() : nullptr;
  // Images side by side when one image is under the grain (it then runs on one thread anyway: the
  // tiny models' CFG pair at 32 channels of 32x32), else one after the other, each shared between
  // the threads. Either way an image gets the same sums: the split never changes them.
  const float* in = x.data_ptr<float>();
  float* dst = out.data_ptr<float>();
  const std::int64_t image = pixels * channels;
  auto images = [&](std::int64_t first, std::int64_t last) {
    for (std::int64_t n = first; n < last; ++n)
      normalize_image(in + n * image, dst + n * image, channels_last, pixels, channels, groups, wp, bp, eps);
  };
  if (image < kGrainElements)
    at::parallel_for(0, x.size(0), grain(image), images);
  else
    images(0, x.size(0));
}

}  // namespace ftdr::torchbe
