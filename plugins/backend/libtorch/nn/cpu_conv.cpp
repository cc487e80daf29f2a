// nn/cpu_conv.cpp: see cpu_conv.hpp.
#include "nn/cpu_conv.hpp"

#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <c10/core/GradMode.h>
#include <torch/version.h>

#include "nn/each_image.hpp"

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
at::Tensor onednn_call(const Conv2d& conv, const at::Tensor& x) {
  const auto& o = conv->options;
  const c10::optional<at::Tensor> bias =
      conv->bias.defined() ? c10::optional<at::Tensor>(conv->bias.contiguous()) : c10::nullopt;
  return at::mkldnn_convolution(channels_last(x) ? x : x.contiguous(), conv->weight.contiguous(), bias,
                                *get_if<torch::ExpandingArray<2>>(&o.padding()), *o.stride(), *o.dilation(),
                                o.groups());
}

// Contiguous: one call for the whole batch (measured batch-invariant, above). Channels-last: one
// call per image, as oneDNN's channels-last kernels were not measured for batch invariance.
at::Tensor onednn_conv2d(const Conv2d& conv, const at::Tensor& x) {
  if (!channels_last(x)) return onednn_call(conv, x);
  return each_image(x, [&](const at::Tensor& image) { return onednn_call(conv, image); });
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
  if (onednn_batched(conv, x)) return onednn_conv2d(conv, x);
  return per_image_conv2d(conv, x);
}

}  // namespace ftdr::torchbe
