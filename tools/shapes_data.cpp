// tools/shapes_data.cpp: scene rendering, captions and the train/held-out split.
#include "shapes_data.hpp"

#include <cmath>

namespace ftdr::demo {

const std::vector<Colour>& palette() {
  static const std::vector<Colour> colours = {
      {"red", {230, 30, 30}},     {"green", {30, 170, 50}},   {"blue", {30, 60, 230}},
      {"yellow", {250, 230, 30}}, {"purple", {150, 40, 200}}, {"orange", {255, 150, 0}},
      {"white", {250, 250, 250}}, {"black", {10, 10, 10}},
  };
  return colours;
}

int colour_index(std::string_view name) {
  const auto& p = palette();
  for (std::size_t i = 0; i < p.size(); ++i)
    if (p[i].name == name) return static_cast<int>(i);
  return -1;
}

std::string_view to_string(Shape s) {
  switch (s) {
    case Shape::circle: return "circle";
    case Shape::square: return "square";
    case Shape::triangle: return "triangle";
  }
  return "?";
}

std::string_view to_string(Size s) { return s == Size::small ? "small" : "large"; }

std::string_view to_string(Position p) {
  switch (p) {
    case Position::centre: return "centre";
    case Position::left: return "left";
    case Position::right: return "right";
    case Position::top: return "top";
    case Position::bottom: return "bottom";
  }
  return "?";
}

namespace {

std::string_view position_phrase(Position p) {
  switch (p) {
    case Position::centre: return "in the centre";
    case Position::left: return "on the left";
    case Position::right: return "on the right";
    case Position::top: return "at the top";
    case Position::bottom: return "at the bottom";
  }
  return "";
}

// "a blue background", "an orange background": the article that English puts before `word`.
std::string with_article(const std::string& word) {
  return std::string("aeiou").find(word.front()) == std::string::npos ? "a " + word : "an " + word;
}

int combination_index(const SceneSpec& s) {
  const int n_colours = static_cast<int>(palette().size());
  int index = static_cast<int>(s.shape);
  index = index * n_colours + s.colour;
  index = index * n_colours + s.background;
  index = index * kNumSizes + static_cast<int>(s.size);
  index = index * kNumPositions + static_cast<int>(s.position);
  return index;
}

// Phrasing 0 (no position) is the form users type first, so it is drawn more often.
int draw_phrasing(std::mt19937_64& rng) {
  const int r = static_cast<int>(rng() % 10);
  return r < 4 ? 0 : 1 + (r - 4) % (kNumPhrasings - 1);
}

}  // namespace

bool is_held_out(const SceneSpec& spec) {
  // Multiplicative hashing spreads the held-out tenth over all attributes.
  const std::uint32_t h = static_cast<std::uint32_t>(combination_index(spec)) * 2654435761u;
  return (h >> 16) % 10 == 0;
}

Placement placement(const SceneSpec& spec) {
  const int half = spec.size == Size::large ? 16 : 9;
  int cx = 32, cy = 32;
  switch (spec.position) {
    case Position::centre: break;
    case Position::left: cx = 20; break;
    case Position::right: cx = 44; break;
    case Position::top: cy = 20; break;
    case Position::bottom: cy = 44; break;
  }
  return {cx + spec.jitter_x, cy + spec.jitter_y, half};
}

namespace {

bool inside(Shape shape, double dx, double dy, double half) {
  switch (shape) {
    case Shape::circle: return dx * dx + dy * dy <= half * half;
    case Shape::square: return std::abs(dx) <= half && std::abs(dy) <= half;
    case Shape::triangle: {
      // Upright isosceles triangle: apex at (0, -half), base from (-half, half) to (half, half).
      if (dy < -half || dy > half) return false;
      const double width_at_y = (dy + half) / 2.0;  // half-width grows from 0 to half
      return std::abs(dx) <= width_at_y;
    }
  }
  return false;
}

}  // namespace

std::vector<std::uint8_t> render(const SceneSpec& spec) {
  std::vector<std::uint8_t> rgb(kImageSize * kImageSize * 3);
  const auto& bg = palette().at(spec.background).rgb;
  const auto& fg = palette().at(spec.colour).rgb;
  const Placement p = placement(spec);
  for (int y = 0; y < kImageSize; ++y) {
    for (int x = 0; x < kImageSize; ++x) {
      const bool in = inside(spec.shape, x + 0.5 - p.cx, y + 0.5 - p.cy, p.half);
      const auto& c = in ? fg : bg;
      std::uint8_t* px = &rgb[(y * kImageSize + x) * 3];
      px[0] = c[0];
      px[1] = c[1];
      px[2] = c[2];
    }
  }
  return rgb;
}

std::string caption(const SceneSpec& spec, int phrasing) {
  const std::string size(to_string(spec.size));
  const std::string colour(palette().at(spec.colour).name);
  const std::string shape(to_string(spec.shape));
  const std::string bg(palette().at(spec.background).name);
  const std::string where(position_phrase(spec.position));
  switch (phrasing) {
    case 0: return "a " + size + " " + colour + " " + shape + " on " + with_article(bg) + " background";
    case 1:
      return "a " + size + " " + colour + " " + shape + " " + where + " on " + with_article(bg) +
             " background";
    case 2: return with_article(bg) + " background with a " + size + " " + colour + " " + shape + " " + where;
    default: return size + " " + colour + " " + shape + " " + where + ", " + bg + " background";
  }
}

SceneSpec SceneGenerator::next_spec(Split split) {
  const int n_colours = static_cast<int>(palette().size());
  for (;;) {
    SceneSpec s;
    s.shape = static_cast<Shape>(uniform(kNumShapes));
    s.colour = uniform(n_colours);
    s.background = uniform(n_colours - 1);
    if (s.background >= s.colour) ++s.background;  // never the shape's colour
    s.size = static_cast<Size>(uniform(kNumSizes));
    s.position = static_cast<Position>(uniform(kNumPositions));
    s.jitter_x = uniform(5) - 2;
    s.jitter_y = uniform(5) - 2;
    if (is_held_out(s) == (split == Split::held_out)) return s;
  }
}

Sample SceneGenerator::next(Split split) {
  Sample out;
  out.spec = next_spec(split);
  out.phrasing = draw_phrasing(rng_);
  out.caption = caption(out.spec, out.phrasing);
  out.rgb = render(out.spec);
  return out;
}

std::vector<std::string> caption_corpus() {
  std::vector<std::string> corpus;
  const int n_colours = static_cast<int>(palette().size());
  SceneSpec s;
  for (int shape = 0; shape < kNumShapes; ++shape)
    for (int c = 0; c < n_colours; ++c)
      for (int b = 0; b < n_colours; ++b)
        for (int size = 0; size < kNumSizes; ++size)
          for (int pos = 0; pos < kNumPositions; ++pos) {
            if (b == c) continue;
            s.shape = static_cast<Shape>(shape);
            s.colour = c;
            s.background = b;
            s.size = static_cast<Size>(size);
            s.position = static_cast<Position>(pos);
            for (int ph = 0; ph < kNumPhrasings; ++ph) corpus.push_back(caption(s, ph));
          }
  return corpus;
}

}  // namespace ftdr::demo
