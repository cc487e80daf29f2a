// nn/onednn_conv.cpp: see onednn_conv.hpp.
#include "nn/onednn_conv.hpp"

#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>

#ifdef FTDR_ONEDNN_CONV
#include "nn/onednn_common.hpp"
#endif

#include <unordered_map>
#include <utility>
#include <vector>

#include "nn/row_bands.hpp"

namespace ftdr::torchbe {

#ifdef FTDR_ONEDNN_CONV
namespace {

using dnnl::memory;
using Primitive = dnnl::convolution_forward::primitive_desc;

// rows rows of a contiguous 1 x channels x height x width float32 tensor, as oneDNN's plain view
// of them (the strides are the whole tensor's, so the rows are read and written where they lie).
memory::desc rows_of(std::int64_t channels, std::int64_t rows, std::int64_t height, std::int64_t width) {
  return memory::desc({1, channels, rows, width}, memory::data_type::f32,
                      memory::dims{channels * height * width, height * width, width, 1});
}

// What one band's primitive depends on besides the layer: its rows in and out and its zero rows.
struct BandShape {
  std::int64_t rows_in, rows_out, top, bottom;
  bool operator==(const BandShape& o) const {
    return rows_in == o.rows_in && rows_out == o.rows_out && top == o.top && bottom == o.bottom;
  }
};

// The layer's convolution over one band, layouts left to oneDNN (its blocked ones), as libtorch's
// own call creates it: direct algorithm, padding as given.
class BandedConv {
 public:
  BandedConv(const at::Tensor& image, const at::Tensor& weight, const c10::optional<at::Tensor>& bias,
             std::int64_t pad_w, at::Tensor& out)
      : image_(image), weight_(weight), bias_(bias), pad_w_(pad_w), out_(out), stream_(onednn_cpu_engine()) {}

  void run(const RowBand& band) {
    const BandShape shape{band.to - band.from, band.last - band.first, band.top, band.bottom};
    const Primitive& pd = primitive(shape);
    const std::int64_t channels = image_.size(1), height = image_.size(2), width = image_.size(3);
    memory src(rows_of(channels, shape.rows_in, height, width), onednn_cpu_engine(),
               image_.data_ptr<float>() + band.from * width);
    const std::int64_t out_h = out_.size(2), out_w = out_.size(3);
    memory dst(rows_of(out_.size(1), shape.rows_out, out_h, out_w), onednn_cpu_engine(),
               out_.data_ptr<float>() + band.first * out_w);
    memory blocked_src = reordered(src, pd.src_desc(), src_buffer_);
    memory blocked_dst = pd.dst_desc() == dst.get_desc() ? dst : buffer(pd.dst_desc(), dst_buffer_);
    std::unordered_map<int, memory> args{
        {DNNL_ARG_SRC, blocked_src}, {DNNL_ARG_WEIGHTS, weights(pd)}, {DNNL_ARG_DST, blocked_dst}};
    if (bias_) {
      args.emplace(DNNL_ARG_BIAS, memory(pd.bias_desc(), onednn_cpu_engine(), bias_->data_ptr<float>()));
    }
    dnnl::convolution_forward(pd).execute(stream_, args);
    if (blocked_dst != dst) dnnl::reorder(blocked_dst, dst).execute(stream_, blocked_dst, dst);
    stream_.wait();
  }

 private:
  // One primitive per band shape (three at most: the first band, the ones between, the last).
  const Primitive& primitive(const BandShape& shape) {
    for (auto& [known, pd] : primitives_) {
      if (known == shape) return pd;
    }
    const memory::dims in{1, image_.size(1), shape.rows_in, image_.size(3)};
    const memory::dims out{1, out_.size(1), shape.rows_out, out_.size(3)};
    const memory::dims w(weight_.sizes().begin(), weight_.sizes().end());
    const auto any = memory::format_tag::any;
    const memory::desc src(in, memory::data_type::f32, any), dst(out, memory::data_type::f32, any),
        wei(w, memory::data_type::f32, any);
    const memory::dims strides{1, 1}, before{shape.top, pad_w_}, after{shape.bottom, pad_w_};
    const auto kind = dnnl::prop_kind::forward_inference;
    const auto direct = dnnl::algorithm::convolution_direct;
    const dnnl::convolution_forward::desc desc =
        bias_
            ? dnnl::convolution_forward::desc(
                  kind, direct, src, wei, memory::desc({w[0]}, memory::data_type::f32, memory::format_tag::x),
                  dst, strides, before, after)
            : dnnl::convolution_forward::desc(kind, direct, src, wei, dst, strides, before, after);
    primitives_.emplace_back(shape, Primitive(desc, onednn_cpu_engine()));
    return primitives_.back().second;
  }

  // The weights in the primitive's layout: reordered once for every band that takes that layout.
  memory weights(const Primitive& pd) {
    if (weights_ && weights_.get_desc() == pd.weights_desc()) return weights_;
    memory plain(
        {{weight_.sizes().begin(), weight_.sizes().end()}, memory::data_type::f32, memory::format_tag::oihw},
        onednn_cpu_engine(), weight_.data_ptr<float>());
    weights_ = reordered(plain, pd.weights_desc(), weights_buffer_);
    return weights_;
  }

  // A memory of desc over storage, grown when too small and reused by the next band.
  memory buffer(const memory::desc& desc, at::Tensor& storage) {
    const auto floats = static_cast<std::int64_t>((desc.get_size() + sizeof(float) - 1) / sizeof(float));
    if (!storage.defined() || storage.numel() < floats) storage = at::empty({floats}, image_.options());
    return memory(desc, onednn_cpu_engine(), storage.data_ptr<float>());
  }

  // from as it is where desc is its layout, else converted into storage.
  memory reordered(memory from, const memory::desc& desc, at::Tensor& storage) {
    if (from.get_desc() == desc) return from;
    memory to = buffer(desc, storage);
    dnnl::reorder(from, to).execute(stream_, from, to);
    return to;
  }

  const at::Tensor& image_;
  const at::Tensor& weight_;
  const c10::optional<at::Tensor>& bias_;
  const std::int64_t pad_w_;
  at::Tensor& out_;
  dnnl::stream stream_;
  std::vector<std::pair<BandShape, Primitive>> primitives_;
  memory weights_;
  at::Tensor src_buffer_, dst_buffer_, weights_buffer_;
};

}  // namespace

bool onednn_direct_conv_built() { return true; }

std::string describe_onednn_conv() {
  const char* runtime = dnnl_version()->cpu_runtime == DNNL_RUNTIME_OMP ? "OpenMP" : "not OpenMP";
  return "convolutions: large images' bands call oneDNN " + onednn_version_text() + " directly (" + runtime +
         " threads)";
}

bool onednn_banded_conv2d(const at::Tensor& image, const at::Tensor& weight,
                          const c10::optional<at::Tensor>& bias, std::int64_t pad_h, std::int64_t pad_w,
                          std::int64_t rows, at::Tensor& out) {
  if (!onednn_plain_f32(image, 4) || !onednn_plain_f32(weight, 4) || !onednn_plain_f32(out, 4) ||
      (bias && !onednn_plain_f32(*bias, 1)) || image.size(0) != 1 || weight.size(1) != image.size(1) ||
      out.size(1) != weight.size(0)) {
    return false;
  }
  try {
    BandedConv conv(image, weight, bias, pad_w, out);
    for (const RowBand& band : row_bands(out.size(2), rows, pad_h, weight.size(2), image.size(2)))
      conv.run(band);
    return true;
  } catch (const dnnl::error&) {
    return false;  // a shape or ISA this oneDNN has no primitive for: libtorch's call still may
  }
}

#else

bool onednn_direct_conv_built() { return false; }

std::string describe_onednn_conv() {
  return "convolutions: through libtorch (this build does not call oneDNN itself: cmake/OneDnnConv.cmake)";
}

bool onednn_banded_conv2d(const at::Tensor&, const at::Tensor&, const c10::optional<at::Tensor>&,
                          std::int64_t, std::int64_t, std::int64_t, at::Tensor&) {
  return false;
}

#endif

}  // namespace ftdr::torchbe
