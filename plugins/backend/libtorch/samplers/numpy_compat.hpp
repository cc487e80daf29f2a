// samplers/numpy_compat.hpp: the few numpy routines diffusers' schedulers are built from, reproduced
// value for value (float64), so timesteps and sigmas come out bit-identical to diffusers 0.31.
//
//   auto t = np_linspace(0, 999, 20);           // numpy.linspace(0, 999, 20)
//   double s = np_interp(457.25, table);        // numpy.interp(x, arange(len(table)), table)
//
// Why not at::linspace / at::arange: numpy and torch compute these in different orders, and a
// one-ulp difference in a timestep changes which sigma the UNet sees.
#pragma once
#include <vector>

namespace ftdr::torchbe {

// numpy.linspace(start, stop, num) with endpoint=True: start + i * ((stop - start) / (num - 1)),
// the last value forced to stop.
std::vector<double> np_linspace(double start, double stop, int num);

// numpy.arange(start, stop, step) for float arguments: length ceil((stop - start) / step), values
// start + i * ((start + step) - start), as numpy's fill does.
std::vector<double> np_arange(double start, double stop, double step);

// numpy.round / numpy.rint: round half to even.
double np_round(double x);

// numpy.interp(x, arange(len(fp)), fp) with fp widened to float64; x outside the table clamps.
double np_interp(double x, const std::vector<float>& fp);

}  // namespace ftdr::torchbe
