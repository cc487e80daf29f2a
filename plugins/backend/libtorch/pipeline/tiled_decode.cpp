// backend/tiled_decode.cpp: see tiled_decode.h.
#include "pipeline/tiled_decode.hpp"
#include "nn/stop_point.hpp"

#include <c10/core/InferenceMode.h>

#include <string>

#include "ftdr/sdk/error.hpp"

namespace ftdr::torchbe {
namespace {

[[noreturn]] void bad_plan(std::size_t index, const std::string& what) {
  throw sdk::Error(sdk::ErrorKind::invalid_request, "tile plan, tile " + std::to_string(index) + ": " + what);
}

void check_tile(const sdk::Tile& t, std::size_t index, int64_t h, int64_t w, int scale) {
  if (t.height <= 0 || t.width <= 0 || t.y < 0 || t.x < 0 || t.y + t.height > h || t.x + t.width > w) {
    bad_plan(index, "rectangle y=" + std::to_string(t.y) + " x=" + std::to_string(t.x) + " " +
                        std::to_string(t.height) + "x" + std::to_string(t.width) + " is not inside the " +
                        std::to_string(h) + "x" + std::to_string(w) + " latent");
  }
  const std::size_t expected =
      static_cast<std::size_t>(t.height) * scale * static_cast<std::size_t>(t.width) * scale;
  if (t.weight.size() != expected) {
    bad_plan(index, "expected " + std::to_string(expected) + " blend weights ((h*scale) x (w*scale)), got " +
                        std::to_string(t.weight.size()));
  }
}

at::Tensor decode_tiles(AutoencoderKL& vae, const at::Tensor& z, const sdk::TilePlan& plan, int scale) {
  const int64_t b = z.size(0), h = z.size(2), w = z.size(3);
  if (plan.tiles.empty()) bad_plan(0, "the plan has no tiles");
  const auto f32 = z.options().dtype(at::kFloat);
  at::Tensor acc, weight_sum = at::zeros({1, 1, h * scale, w * scale}, f32);
  for (std::size_t i = 0; i < plan.tiles.size(); ++i) {
    const sdk::Tile& t = plan.tiles[i];
    check_tile(t, i, h, w, scale);
    stop_point();
    at::Tensor part =
        vae->decode(z.slice(2, t.y, t.y + t.height).slice(3, t.x, t.x + t.width)).to(at::kFloat);
    if (!acc.defined()) acc = at::zeros({b, part.size(1), h * scale, w * scale}, f32);
    at::Tensor weight = at::from_blob(const_cast<float*>(t.weight.data()),
                                      {1, 1, int64_t{t.height} * scale, int64_t{t.width} * scale}, at::kFloat)
                            .to(z.device());
    const int64_t y0 = int64_t{t.y} * scale, x0 = int64_t{t.x} * scale;
    acc.slice(2, y0, y0 + part.size(2)).slice(3, x0, x0 + part.size(3)).add_(part * weight);
    weight_sum.slice(2, y0, y0 + part.size(2)).slice(3, x0, x0 + part.size(3)).add_(weight);
  }
  if (!(weight_sum > 0).all().item<bool>())
    throw sdk::Error(sdk::ErrorKind::invalid_request,
                     "tile plan: the tiles leave output pixels uncovered (total blend weight <= 0)");
  return acc / weight_sum;
}

}  // namespace

at::Tensor decode_latents(AutoencoderKL& vae, const at::Tensor& z, const sdk::TilePlan* plan, int scale) {
  c10::InferenceMode inference;  // no autograd bookkeeping (version counters, views) per op
  if (plan == nullptr) return vae->decode(z).to(at::kFloat);
  if (plan->scale != scale) {
    throw sdk::Error(sdk::ErrorKind::invalid_request, "tile plan: scale " + std::to_string(plan->scale) +
                                                          " does not match the VAE's factor " +
                                                          std::to_string(scale));
  }
  return decode_tiles(vae, z, *plan, scale);
}

}  // namespace ftdr::torchbe
