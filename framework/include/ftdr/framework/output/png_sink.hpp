// ftdr/framework/output/png_sink.hpp: the ImageSink that writes a job's images as PNGs with metadata.
//
// Files go to the request's output_dir and never replace a file that is there:
//   output_prefix set:   <prefix>-<image index>.png; when that name is taken,
//                        <prefix>-<image index>-<n>.png with the smallest free n >= 1
//   output_prefix empty: <NNNNN>-<seed of the image>.png, NNNNN the next free number in the folder
//                        (the AUTOMATIC1111 naming); when that name is taken, the next number
// A name is claimed atomically (png_writer.hpp: write_new_png), so runs writing into one folder at
// the same time each keep all their images; the printed paths say which names they got.
// Each file has the `parameters` (A1111) and `ftdr_request` (JSON) text chunks (png_writer.hpp);
// `parameters` names the model and, for sampler "default", the model's own sampler. `ftdr_request`
// is the request without output_dir, so the same request gives the same bytes in any folder.
//
//   check_output_folder(output_folder(request));   // before any work: exit 2, not a lost job
//   EngineConfig ec; ec.image_sink = make_png_sink(backend->info());
#pragma once
#include <filesystem>
#include <string>

#include "ftdr/framework/engine/execution_engine.hpp"

namespace ftdr::framework {

ImageSink make_png_sink(const sdk::ModelInfo& model);

// Where the sink writes the request's images ("outputs" when output_dir is empty).
std::filesystem::path output_folder(const sdk::GenerationRequest& request);

// Creates `dir` if needed and checks that a file can be created in it. Throws
// sdk::Error(invalid_request, "output folder '<dir>': <why>") otherwise.
void check_output_folder(const std::filesystem::path& dir);

}  // namespace ftdr::framework
