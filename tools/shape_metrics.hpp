// tools/shape_metrics.hpp: reads back what a 64x64 scene shows, by simple image analysis, so the
// demo model's output can be checked against its caption.
//
//   ftdr::demo::SceneAnalysis a = ftdr::demo::analyse(rgb, 64, 64);
//   bool ok = a.colour == spec.colour && a.background == spec.background && a.shape == spec.shape;
//
// Background: the nearest palette colour to the median of the image border. Foreground: pixels
// far from the measured background colour, largest 4-connected region. Colour: majority vote of
// the foreground pixels' nearest palette colours (the background's colour excluded). Shape: the
// region's fill ratio of its bounding box (square ~1, circle ~pi/4, triangle ~1/2).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "shapes_data.hpp"

namespace ftdr::demo {

struct SceneAnalysis {
  int background = -1;         // palette index
  int colour = -1;             // palette index of the dominant foreground colour; -1: none
  std::optional<Shape> shape;  // empty when no foreground region was found
  std::optional<Size> size;    // large when the bounding box's longer side >= 24 px
  std::optional<Position> position;
  double fill_ratio = 0.0;  // region area / bounding-box area
  int foreground_pixels = 0;
  int bbox_x0 = 0, bbox_y0 = 0, bbox_x1 = 0, bbox_y1 = 0;  // inclusive
};

// rgb: width*height*3 bytes, row-major RGB.
SceneAnalysis analyse(const std::vector<std::uint8_t>& rgb, int width, int height);

// Nearest palette colour (squared RGB distance), optionally skipping one index.
int nearest_palette_colour(const std::uint8_t* px, int skip = -1);

// Shape from fill ratio alone (thresholds midway between the ideal ratios).
Shape classify_fill_ratio(double fill_ratio);

struct MatchResult {
  bool colour = false, background = false, shape = false, size = false, position = false;
};
MatchResult match(const SceneAnalysis& analysis, const SceneSpec& expected);

}  // namespace ftdr::demo
