// nn/cpu_conv.hpp: a Conv2d forward whose result for one image does not depend on the batch.
//
// libtorch 1.13 picks the CPU convolution algorithm from the whole input's shape: oneDNN when the
// batch is > 1 (or the image is large), its own im2col + BLAS kernel (slow_conv2d) for a single
// small image, and for 1x1 kernels on one thread oneDNN only from a batch of 16. The two round
// differently, so an image decoded alone and the same image decoded in a batch of two differ in
// the last bits (enough to change a pixel of the tiny reference model at 64x64). In inference on
// the CPU a float32 convolution is therefore one oneDNN call whatever the batch, a single image
// included: oneDNN parallelises a forward convolution over images, output channels and rows, not
// over the sum that makes one output element, so the batch decides which thread computes an
// image, not how (measured, bench/conv_batch_invariance.py; up to 4 threads, see cpu_conv.cpp).
// Other dtypes and more threads run image by image; training and CUDA keep libtorch's own call.
// Large images' 3x3 convolutions run as Winograd's F(2x2, 3x3) where the CPU has AVX2 and FMA
// (nn/winograd_conv.hpp; which ones: cpu_conv.cpp), image by image, on any number of threads.
//
//   at::Tensor y = cpu_conv2d(conv1, x);   // = conv1(x), batch-invariant on the CPU
#pragma once
#include <string>

#include "nn/conv_2d.hpp"

namespace ftdr::torchbe {

at::Tensor cpu_conv2d(Conv2d& conv, const at::Tensor& x);

// Whether oneDNN runs float32 convolutions on channels-last (NHWC) activations as fast as on its
// blocked layout, so that a network may keep its activations channels-last on the CPU (no reorder
// into the blocked layout and back per convolution: two fewer full-size buffers). True where oneDNN
// may use AVX-512 (avx512_core: its NHWC kernels are brgemm ones); with AVX2 alone its NHWC kernels
// took 1.34-1.85x the time of a contiguous input on the SD VAE decoder's 3x3 shapes, 1.61x all
// together (AMD EPYC, oneDNN 2.6, bench/conv_layout_speed.py), and the SD-1.5-size decode ran
// 25.9 s against diffusers' 17.8 s. On an AVX-512 Xeon channels-last was the faster (15.3-16.2 s
// against 15.6-18.5 s for the decode) and saves the two buffers. DNNL_MAX_CPU_ISA (or
// ONEDNN_MAX_CPU_ISA) below AVX512_CORE counts. Fixed per machine, so every process of a job
// decodes alike.
bool cpu_channels_last_convs_fast();

// Whether large images' 3x3 convolutions may run as Winograd's (on by default; `winograd` in
// [backend.libtorch]). Process-wide, read at every convolution.
void set_winograd_convs(bool on);

// For `ftdr doctor`: one line starting with "3x3 convolutions: " that says whether large images'
// 3x3 convolutions run as Winograd F(2x2, 3x3) on this machine (nn/winograd_conv.hpp), and from
// which size.
std::string describe_winograd_convs();

}  // namespace ftdr::torchbe
