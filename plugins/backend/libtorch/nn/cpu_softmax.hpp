// nn/cpu_softmax.hpp: the attention's softmax over float32 scores on the CPU, with a faster exp.
//
// libtorch's CPU softmax spends most of its time in Sleef's expf (the 1-ulp variant): a profile of
// the tiny pipeline on 2 threads had 15.6% of its samples in softmax, 9% in that exp alone, and
// the SD-1.5 UNet step 2.1 s of 23. On AVX2 + FMA this one takes exp(x - max) from Cephes' expf
// polynomial (within 2 ulp), eight lanes at a time, the row's tail through the same vector code
// (masked), so an element's result never depends on where a row or a thread's range ends.
// Differences from libtorch's: results within a few ulp (its exp and its order of summation
// differ), and exp of anything below -87.3 (where expf leaves the normal floats; such a
// probability is under 1.2e-38 of the row's largest) is 0. Kept as libtorch does: a row holding
// NaN is NaN, a row of -inf (fully masked) is NaN, a -inf element (masked) is exactly 0.
// Elsewhere (no AVX2/FMA, not x86-64, other dtypes or layouts, autograd) it is at::softmax.
//
//   at::Tensor p = cpu_softmax(scores);   // softmax(scores, -1)
//   cpu_softmax_out(p, s);                // into p (p may be s), rows side by side
#pragma once
#include <ATen/ATen.h>

namespace ftdr::torchbe {

// True when cpu_softmax_out computes x with its own kernel: float32, CPU, contiguous, rows of at
// least one element, no gradient to record, and a CPU with AVX2 and FMA.
bool cpu_softmax_fast(const at::Tensor& x);

// softmax(x, -1) into out (x's shape, contiguous; may be x itself). Rows run side by side on
// libtorch's threads (any split gives the same result: a row is one thread's).
void cpu_softmax_out(const at::Tensor& out, const at::Tensor& x);

// softmax(x, -1) into a new tensor.
at::Tensor cpu_softmax(const at::Tensor& x);

}  // namespace ftdr::torchbe
