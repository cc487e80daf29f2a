#include "samplers/numpy_compat.hpp"

#include <cmath>

namespace ftdr::torchbe {

std::vector<double> np_linspace(double start, double stop, int num) {
  std::vector<double> y;
  if (num <= 0) return y;
  y.resize(static_cast<size_t>(num));
  if (num == 1) {
    y[0] = start;
    return y;
  }
  const double div = num - 1;
  const double delta = stop - start;
  const double step = delta / div;
  for (int i = 0; i < num; ++i) {
    // numpy: when the step underflows to 0 it divides first, else multiplies by the step.
    y[static_cast<size_t>(i)] = (step == 0 ? (i / div) * delta : i * step) + start;
  }
  y.back() = stop;
  return y;
}

std::vector<double> np_arange(double start, double stop, double step) {
  std::vector<double> y;
  const double len = std::ceil((stop - start) / step);
  if (!(len > 0)) return y;
  const auto n = static_cast<size_t>(len);
  y.resize(n);
  y[0] = start;
  if (n == 1) return y;
  y[1] = start + step;
  const double delta = y[1] - y[0];
  for (size_t i = 2; i < n; ++i) y[i] = start + static_cast<double>(i) * delta;
  return y;
}

double np_round(double x) { return std::nearbyint(x); }

double np_interp(double x, const std::vector<float>& fp) {
  const auto n = static_cast<long>(fp.size());
  if (n == 0) return 0;
  if (!(x > 0)) return fp.front();  // also x == 0 (numpy returns fp[0] exactly there)
  if (x >= static_cast<double>(n - 1)) return fp.back();
  const auto j = static_cast<long>(std::floor(x));
  if (static_cast<double>(j) == x) return fp[static_cast<size_t>(j)];
  const double lo = fp[static_cast<size_t>(j)];
  const double hi = fp[static_cast<size_t>(j + 1)];
  const double slope = (hi - lo) / 1.0;  // xp spacing is 1
  return slope * (x - static_cast<double>(j)) + lo;
}

}  // namespace ftdr::torchbe
