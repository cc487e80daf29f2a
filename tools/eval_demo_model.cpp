// tools/eval_demo_model.cpp: ftdr_eval_demo, the quality check of the demo model.
//
//   ftdr_eval_demo --model models/ftdr-shapes --samples 120
//   ftdr_eval_demo --model models/ftdr-shapes --record
//   plugins/backend/libtorch/tests/data/ftdr_shapes_seed42.rgb
//
// Generates one image per held-out caption (attribute combinations never seen in training), image
// i with seed base_seed + i, through the backend (encode -> denoise -> decode), reads back colour,
// background, shape, size and position by image analysis (shape_metrics.h) and prints the table
// with the goals (colour >= 90%, background >= 90%, shape >= 70%). --record writes the raw
// RGB bytes of the demo prompt at the demo seed, the image demo_model_test compares against.
#include <ATen/Parallel.h>

#include <algorithm>
#include <boost/program_options.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>

#include "demo_generate.hpp"
#include "shape_metrics.hpp"
#include "shapes_data.hpp"

namespace po = boost::program_options;
using namespace ftdr;

namespace {

struct Args {
  std::string model, record, dump;
  int samples = 120, threads = 0, first = 0;
  std::uint64_t caption_seed = 2024, base_seed = 1000;
  demo::GenerateOptions gen;
};

struct Row {
  const char* name;
  int hits = 0;
  double goal = 0;  // 0: reported only
  int total = 0;    // samples this row applies to
};

void print_table(const std::vector<Row>& rows, double ms_per_image) {
  std::printf("\n| check | correct | rate | goal |\n| --- | --- | --- | --- |\n");
  for (const auto& r : rows) {
    const int n = std::max(r.total, 1);
    const double rate = 100.0 * r.hits / n;
    if (r.goal > 0)
      std::printf("| %s | %d/%d | %.1f%% | >= %.0f%% %s |\n", r.name, r.hits, n, rate, r.goal,
                  rate >= r.goal ? "(met)" : "(NOT met)");
    else
      std::printf("| %s | %d/%d | %.1f%% | - |\n", r.name, r.hits, n, rate);
  }
  std::printf("\n%.0f ms per image (64x64, end to end, %s)\n", ms_per_image, "CPU");
}

void write_ppm(const std::string& path, const sdk::Image& img) {
  std::ofstream out(path, std::ios::binary);
  out << "P6\n" << img.width << " " << img.height << "\n255\n";
  out.write(reinterpret_cast<const char*>(img.rgb.data()), static_cast<std::streamsize>(img.rgb.size()));
}

int evaluate(const Args& a, demo::DemoGenerator& gen) {
  demo::SceneGenerator captions(a.caption_seed);
  // Position counts only where the caption names one (phrasing 0 leaves it to the model).
  std::vector<Row> rows{
      {"colour", 0, 90}, {"background", 0, 90},           {"shape", 0, 70},
      {"size", 0, 0},    {"position (when named)", 0, 0}, {"colour + background + shape", 0, 0}};
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < a.first; ++i) captions.next(demo::Split::held_out);
  for (int i = a.first; i < a.first + a.samples; ++i) {
    const demo::Sample s = captions.next(demo::Split::held_out);
    const sdk::Image img = gen.generate(s.caption, a.base_seed + i, a.gen);
    const auto m = demo::match(demo::analyse(img.rgb, img.width, img.height), s.spec);
    rows[0].hits += m.colour, rows[1].hits += m.background, rows[2].hits += m.shape;
    rows[3].hits += m.size;
    if (s.phrasing != 0) rows[4].hits += m.position, ++rows[4].total;
    rows[5].hits += m.colour && m.background && m.shape;
    for (std::size_t r = 0; r < rows.size(); ++r)
      if (r != 4) ++rows[r].total;
    if (!a.dump.empty()) write_ppm(a.dump + "/" + std::to_string(i) + ".ppm", img);
    if (!a.dump.empty()) {
      std::printf("%d: %s%s%s%s\n", i, s.caption.c_str(), m.colour ? "" : " [colour]",
                  m.background ? "" : " [background]", m.shape ? "" : " [shape]");
      std::fflush(stdout);
    }
  }
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  std::printf(
      "ftdr_eval_demo: %d held-out captions from #%d, sampler %s, %d steps, guidance %.1f, seeds %llu..\n",
      a.samples, a.first, a.gen.sampler.c_str(), a.gen.steps, a.gen.guidance,
      static_cast<unsigned long long>(a.base_seed));
  print_table(rows, ms / a.samples);
  const bool met = rows[0].hits * 100 >= 90 * a.samples && rows[1].hits * 100 >= 90 * a.samples &&
                   rows[2].hits * 100 >= 70 * a.samples;
  return met ? 0 : 2;
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  po::options_description d("ftdr_eval_demo: image-analysis quality check of the demo model");
  d.add_options()("help,h", "this help")("model", po::value(&a.model)->default_value("models/ftdr-shapes"),
                                         "model folder")("samples", po::value(&a.samples)->default_value(120),
                                                         "held-out captions to generate")(
      "first", po::value(&a.first)->default_value(0),
      "start at this caption (to split a run over processes)")(
      "caption-seed", po::value(&a.caption_seed)->default_value(2024), "seed of the caption draw")(
      "seed", po::value(&a.base_seed)->default_value(1000), "image i uses seed + i")(
      "steps", po::value(&a.gen.steps)->default_value(demo::kDemoSteps), "denoising steps")(
      "cfg", po::value(&a.gen.guidance)->default_value(demo::kDemoGuidance), "guidance scale")(
      "sampler", po::value(&a.gen.sampler)->default_value("default"), "sampler name")(
      "threads", po::value(&a.threads)->default_value(0),
      "intra-op CPU threads; 0: the backend's default, as ftdr generate")(
      "dump", po::value(&a.dump), "folder to write every image as PPM, with the misses listed")(
      "record", po::value(&a.record), "write the RGB bytes of the demo prompt at seed 42 to this file");
  try {
    po::variables_map vm;
    po::store(po::parse_command_line(argc, argv, d), vm);
    po::notify(vm);
    if (vm.count("help")) {
      std::cout << d << "\n";
      return 0;
    }
    demo::DemoGenerator gen(a.model);
    if (a.threads > 0) at::set_num_threads(a.threads);
    if (!a.record.empty()) {
      const sdk::Image img = gen.generate(demo::kDemoPrompt, demo::kDemoSeed, a.gen);
      std::ofstream(a.record, std::ios::binary)
          .write(reinterpret_cast<const char*>(img.rgb.data()), static_cast<std::streamsize>(img.rgb.size()));
      std::printf("recorded \"%s\" seed %llu -> %s (fnv1a %016llx)\n", demo::kDemoPrompt,
                  static_cast<unsigned long long>(demo::kDemoSeed), a.record.c_str(),
                  static_cast<unsigned long long>(demo::image_hash(img)));
      return 0;
    }
    return evaluate(a, gen);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ftdr_eval_demo: %s\n", e.what());
    return 1;
  }
}
