// tools/shapes_data.hpp: the "ftdr-shapes" data set: 64x64 RGB scenes of one flat-coloured shape
// on a flat background, each with a templated English caption. Deterministic from a seed.
//
//   ftdr::demo::SceneGenerator gen(/*seed=*/1234);
//   ftdr::demo::Sample s = gen.next(ftdr::demo::Split::train);
//   // s.rgb: 64*64*3 bytes (row-major, RGB); s.caption: "a large red circle on a blue background"
//
// The split is by attribute combination: a fixed tenth of all (shape, colour, background, size,
// position) combinations never appears in training, so evaluation captions are held out.
#pragma once
#include <array>
#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace ftdr::demo {

inline constexpr int kImageSize = 64;

enum class Shape { circle, square, triangle };
enum class Size { small, large };
enum class Position { centre, left, right, top, bottom };

struct Colour {
  std::string_view name;
  std::array<std::uint8_t, 3> rgb;
};

// The eight named colours used for shapes and backgrounds (well separated in RGB, so that a
// nearest-colour classifier is a fair test of the model).
const std::vector<Colour>& palette();
// Index into palette() by name; -1 if unknown.
int colour_index(std::string_view name);

std::string_view to_string(Shape s);
std::string_view to_string(Size s);
std::string_view to_string(Position p);
inline constexpr int kNumShapes = 3;
inline constexpr int kNumSizes = 2;
inline constexpr int kNumPositions = 5;

// One scene's attributes; colours are indices into palette(), foreground != background.
struct SceneSpec {
  Shape shape = Shape::circle;
  int colour = 0;
  int background = 1;
  Size size = Size::large;
  Position position = Position::centre;
  int jitter_x = 0;  // pixel offset of the shape centre, small, for variety
  int jitter_y = 0;
};

struct Sample {
  SceneSpec spec;
  std::string caption;
  int phrasing = 0;               // caption template; 0 names no position
  std::vector<std::uint8_t> rgb;  // kImageSize * kImageSize * 3, row-major RGB
};

enum class Split { train, held_out };

// True if this attribute combination belongs to the held-out tenth (ignores jitter).
bool is_held_out(const SceneSpec& spec);

// Draws the scene: background fill, then the shape (hard edges).
std::vector<std::uint8_t> render(const SceneSpec& spec);

// Caption in template `phrasing` (0..kNumPhrasings-1). Phrasing 0 names no position
// ("a large red circle on a blue background"); the others name it in different word orders.
inline constexpr int kNumPhrasings = 4;
std::string caption(const SceneSpec& spec, int phrasing);

// Shape centre and half-extent in pixels for a spec (used by render and by tests).
struct Placement {
  int cx, cy, half;
};
Placement placement(const SceneSpec& spec);

class SceneGenerator {
 public:
  explicit SceneGenerator(std::uint64_t seed) : rng_(seed) {}
  // A random scene of the given split with a random phrasing.
  Sample next(Split split);
  SceneSpec next_spec(Split split);

 private:
  std::mt19937_64 rng_;
  int uniform(int n) { return static_cast<int>(rng_() % static_cast<std::uint64_t>(n)); }
};

// Every distinct caption the generator can produce (all combinations, all phrasings): the
// corpus the tokenizer is learned from.
std::vector<std::string> caption_corpus();

}  // namespace ftdr::demo
