// nn/cpu_conv.cpp: see cpu_conv.hpp.
#include "nn/cpu_conv.hpp"

#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <c10/core/GradMode.h>
#include <torch/version.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdlib>
#include <string>

#include "nn/each_image.hpp"
#include "nn/onednn_conv.hpp"
#include "nn/row_bands.hpp"
#include "nn/winograd_conv.hpp"

namespace ftdr::torchbe {
namespace {

#if TORCH_VERSION_MAJOR >= 2
using std::get_if;  // libtorch 2 holds the options' variants in std::variant
#else
using c10::get_if;
#endif

// oneDNN's batch invariance holds up to this many intra-op threads. On 16 threads it does not:
// 1x1 convolutions at 16x16 (SD-1.5's 1280-channel ones, the tiny UNet's at 256x256) give an image
// alone and in a batch of 2 results 2-7e-6 apart (oneDNN then also splits the sum over input
// channels between threads, differently for another batch). 4 is where every shape measured was.
constexpr int kMaxBatchInvariantThreads = 4;

// A contiguous image whose input is larger than this is convolved in bands of output rows, each
// band reading about kBandInputBytes of input (banded_conv2d). The SD VAE decoder's last two levels
// at 512x512 (67-268 MiB per image) are banded where Winograd does not take them (below: their 1x1
// shortcuts; every convolution with winograd = false or without AVX2); the SD-1.5 and SDXL UNets'
// largest inputs (5 and 21 MiB per image at their default sizes) are not. Band size against the SD-1.5-size
// VAE decode's peak RSS (the worker of bench/compare_diffusers.py, 2:2, AMD EPYC): 4 MiB 946 MB, 8 MiB 992
// MB, 32 MiB 1045-1093 MB, 64 MiB 1159 MB, 128 MiB 1350 MB, unbanded 1207 MB; the decode's time level within
// this machine's noise from 4 to 32 MiB (16.9-22.8 s). A band's temporaries stay below glibc's mmap threshold
// and come from its heap, which keeps them: smaller bands, less kept.
constexpr std::int64_t kBandedMinBytes = std::int64_t{64} << 20;
constexpr std::int64_t kBandInputBytes = std::int64_t{8} << 20;

// A 3x3 convolution (stride 1, padding 1, one group) of an image of at least kWinogradMinBytes
// and kWinogradMinPixels runs as Winograd's F(2x2, 3x3) (nn/winograd_conv.hpp) where the CPU has
// AVX2 and FMA: 2.25x fewer products than the direct sum, for the transforms' cost. Against
// oneDNN 2.6's direct AVX2 kernels on two Zen 2 cores (bench/ftdr_bench_conv3x3, 2 threads): the
// SD VAE decoder's 128 channels at 512x512 0.28 s against 0.50 s, 512 at 128x128 0.28 against
// 0.43, 512 at 64x64 (8 MiB) 0.080 against 0.106, the SDXL UNet's 320 at 128x128 0.11 against
// 0.16; the SD-1.5 UNet's 320 at 64x64 (5 MiB) 0.031 against 0.041, left to oneDNN so that its
// UNet stays the one the parity tests measured; 640 at 32x32 even, 1280 at 16x16 2.3x the time
// (the weights' transform then dominates). The result differs from the direct sum by float32
// rounding only; a tile's sum does not depend on the batch or the threads (each image alone).
constexpr std::int64_t kWinogradMinBytes = std::int64_t{8} << 20;
constexpr std::int64_t kWinogradMinPixels = 64 * 64;

std::atomic<bool>& winograd_on() {
  static std::atomic<bool> on{true};
  return on;
}

// float32 with zero padding given as numbers, on at most kMaxBatchInvariantThreads threads.
bool onednn_batched(const Conv2d& conv, const at::Tensor& x) {
  const auto& o = conv->options;
  return x.scalar_type() == at::kFloat && conv->weight.scalar_type() == at::kFloat &&
         at::get_num_threads() <= kMaxBatchInvariantThreads && at::hasMKLDNN() &&
         at::globalContext().userEnabledMkldnn() && get_if<torch::ExpandingArray<2>>(&o.padding());
}

// True for a channels-last input (the VAE decoder's layout on the CPU) that is not also contiguous.
bool channels_last(const at::Tensor& x) {
  return !x.is_contiguous() && x.is_contiguous(at::MemoryFormat::ChannelsLast);
}

// One oneDNN call for x as it is: channels-last in and out, or contiguous (anything else is made
// contiguous first). A channels-last input needs no reorder into oneDNN's blocked layout, and the
// output is written in place of the blocked copy and its conversion back: at the SD VAE's full
// resolution two 134-268 MiB buffers fewer per convolution.
// The module's bias as at::mkldnn_convolution takes it.
c10::optional<at::Tensor> onednn_bias(const Conv2d& conv) {
  return conv->bias.defined() ? c10::optional<at::Tensor>(conv->bias.contiguous()) : c10::nullopt;
}

at::Tensor onednn_call(const Conv2d& conv, const at::Tensor& x) {
  const auto& o = conv->options;
  return at::mkldnn_convolution(channels_last(x) ? x : x.contiguous(), conv->weight.contiguous(),
                                onednn_bias(conv), *get_if<torch::ExpandingArray<2>>(&o.padding()),
                                *o.stride(), *o.dilation(), o.groups());
}

// Stride 1, no dilation, one group, on a contiguous input of more than kBandedMinBytes per image:
// convolved in bands of output rows (banded_conv2d).
bool banded(const Conv2d& conv, const at::Tensor& x) {
  const auto& o = conv->options;
  const at::IntArrayRef stride = o.stride(), dilation = o.dilation();
  return !channels_last(x) && stride[0] == 1 && stride[1] == 1 && dilation[0] == 1 && dilation[1] == 1 &&
         o.groups() == 1 &&
         x.numel() / std::max<std::int64_t>(x.size(0), 1) * x.element_size() > kBandedMinBytes;
}

// One image's convolution in bands of output rows, each from its input rows (and zero rows beyond
// the image's edge, which is what the padding adds), written into the output. oneDNN reorders a
// contiguous input into its blocked layout, convolves into a blocked output and converts that back:
// for the whole image that is two more full-size buffers (at the SD VAE's full resolution 268 MiB
// in and 134 MiB out), for a band about kBandInputBytes and its output. The sum that makes an
// output element does not depend on which rows a call covers: the banded result was bit for bit
// the one-call result on every SD VAE decoder shape measured (oneDNN 2.6's AVX2 kernels), in about
// the same time. Where this build calls oneDNN itself (nn/onednn_conv.hpp) the bands read and write
// the image's rows in place and share one reorder of the weights: the SD-1.5-size VAE decode took
// 13.70 s against 14.77 s through at::mkldnn_convolution (2:1 threads, AMD EPYC, median of 5).
at::Tensor banded_conv2d(const Conv2d& conv, const at::Tensor& image) {
  const auto& o = conv->options;
  const at::IntArrayRef padding = *get_if<torch::ExpandingArray<2>>(&o.padding());
  const std::int64_t pad_h = padding[0], pad_w = padding[1];
  const std::int64_t kh = conv->weight.size(2), height = image.size(2);
  const std::int64_t out_h = height + 2 * pad_h - kh + 1;
  const std::int64_t out_w = image.size(3) + 2 * pad_w - conv->weight.size(3) + 1;
  const std::int64_t row_bytes = image.size(1) * image.size(3) * image.element_size();
  const std::int64_t rows = std::max<std::int64_t>(1, kBandInputBytes / row_bytes);
  const c10::optional<at::Tensor> bias = onednn_bias(conv);
  const at::Tensor weight = conv->weight.contiguous();
  at::Tensor out = at::empty({1, weight.size(0), out_h, out_w}, image.options());
  if (onednn_banded_conv2d(image, weight, bias, pad_h, pad_w, rows, out)) return out;
  for (const RowBand& b : row_bands(out_h, rows, pad_h, kh, height)) {
    at::Tensor band = image.slice(2, b.from, b.to);
    band = b.top + b.bottom > 0 ? at::constant_pad_nd(band, {0, 0, b.top, b.bottom}, 0) : band.contiguous();
    out.slice(2, b.first, b.last)
        .copy_(
            at::mkldnn_convolution(band, weight, bias, {0, pad_w}, *o.stride(), *o.dilation(), o.groups()));
  }
  return out;
}

// Contiguous: one call for the whole batch (measured batch-invariant, above), a large image in
// bands. Channels-last: one call per image, as oneDNN's channels-last kernels were not measured for
// batch invariance.
at::Tensor onednn_conv2d(const Conv2d& conv, const at::Tensor& x) {
  if (banded(conv, x)) {
    const at::Tensor input = x.contiguous();
    return each_image(input, [&](const at::Tensor& image) { return banded_conv2d(conv, image); });
  }
  if (!channels_last(x)) return onednn_call(conv, x);
  return each_image(x, [&](const at::Tensor& image) { return onednn_call(conv, image); });
}

// Whether x's convolution runs as Winograd's (above): float32, contiguous, 3x3 with padding 1, stride
// 1, no dilation, one group, an image of at least kWinogradMinBytes and kWinogradMinPixels.
bool winograd(const Conv2d& conv, const at::Tensor& x) {
  const auto& o = conv->options;
  const auto* pad = get_if<torch::ExpandingArray<2>>(&o.padding());
  const at::IntArrayRef stride = o.stride(), dilation = o.dilation(), kernel = conv->weight.sizes();
  const at::IntArrayRef padding = pad != nullptr ? **pad : at::IntArrayRef();
  return winograd_on() && winograd_conv_available() && x.scalar_type() == at::kFloat &&
         conv->weight.scalar_type() == at::kFloat && !channels_last(x) && padding.size() == 2 &&
         padding[0] == 1 && padding[1] == 1 && kernel[2] == 3 && kernel[3] == 3 && stride[0] == 1 &&
         stride[1] == 1 && dilation[0] == 1 && dilation[1] == 1 && o.groups() == 1 &&
         x.size(2) * x.size(3) >= kWinogradMinPixels &&
         x.numel() / std::max<std::int64_t>(x.size(0), 1) * x.element_size() >= kWinogradMinBytes;
}

// Each image on its own; one winograd_conv3x3 refused (winograd() rules that out) would be libtorch's.
at::Tensor winograd_conv2d(Conv2d& conv, const at::Tensor& x) {
  const at::Tensor input = x.contiguous(), weight = conv->weight.contiguous();
  const c10::optional<at::Tensor> bias = onednn_bias(conv);
  return each_image(input, [&](const at::Tensor& image) {
    at::Tensor out = at::empty({1, weight.size(0), image.size(2), image.size(3)}, image.options());
    return winograd_conv3x3(image, weight, bias, out) ? out : conv(image);
  });
}

// Anything else (bfloat16, more threads): every image is its own convolution, so libtorch picks its
// kernel from one image's shape whatever the batch. bfloat16 stays here because oneDNN's batch
// invariance was only measured for float32.
at::Tensor per_image_conv2d(Conv2d& conv, const at::Tensor& x) {
  return each_image(x, [&](const at::Tensor& image) { return conv(image); });
}

}  // namespace

at::Tensor cpu_conv2d(Conv2d& conv, const at::Tensor& x) {
  if (x.dim() != 4 || !x.device().is_cpu() || c10::GradMode::is_enabled()) return conv(x);
  if (winograd(conv, x)) return winograd_conv2d(conv, x);
  if (onednn_batched(conv, x)) return onednn_conv2d(conv, x);
  return per_image_conv2d(conv, x);
}

namespace {

// The ISA cap oneDNN reads from its environment, upper-cased ("" when none is set).
std::string onednn_isa_cap() {
  const char* cap = std::getenv("ONEDNN_MAX_CPU_ISA");
  if (cap == nullptr) cap = std::getenv("DNNL_MAX_CPU_ISA");
  std::string out = cap == nullptr ? "" : cap;
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char ch) { return std::toupper(ch); });
  return out;
}

}  // namespace

bool cpu_channels_last_convs_fast() {
  static const bool fast = [] {
#if defined(__x86_64__) || defined(__i386__)
    const bool avx512_core = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                             __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
    const std::string cap = onednn_isa_cap();
    return avx512_core && (cap.empty() || cap == "ALL" || cap.find("AVX512") != std::string::npos);
#else
    return false;  // oneDNN's other ISAs: not measured, so the contiguous layout as libtorch uses it
#endif
  }();
  return fast;
}

void set_winograd_convs(bool on) { winograd_on() = on; }

std::string describe_winograd_convs() {
  if (!winograd_on()) return "3x3 convolutions: oneDNN's direct ones (winograd = false)";
  if (!winograd_conv_available()) {
    return "3x3 convolutions: oneDNN's direct ones (Winograd F(2x2, 3x3) needs AVX2 and FMA, which this CPU "
           "lacks)";
  }
  return "3x3 convolutions: Winograd F(2x2, 3x3) (AVX2 + FMA) for float32 images of at least " +
         std::to_string(kWinogradMinBytes >> 20) + " MiB and " + std::to_string(kWinogradMinPixels) +
         " pixels, contiguous; smaller ones oneDNN's direct ones";
}

}  // namespace ftdr::torchbe
