// ftdr/framework/png_sink.hpp: the ImageSink that writes a job's images as PNGs with metadata.
//
// Files go to the request's output_dir:
//   output_prefix set:   <prefix>-<image index>.png                      (exact, for scripts/tests)
//   output_prefix empty: <NNNNN>-<seed of the image>.png, NNNNN the next free number in the folder
//                        (the AUTOMATIC1111 naming)
// Each file has the `parameters` (A1111) and `ftdr_request` (JSON) text chunks (png_writer.hpp);
// `parameters` names the model and, for sampler "default", the model's own sampler.
//
//   EngineConfig ec; ec.image_sink = make_png_sink(backend->info());
#pragma once
#include <string>

#include "ftdr/framework/execution_engine.hpp"

namespace ftdr::framework {

ImageSink make_png_sink(const sdk::ModelInfo& model);

}  // namespace ftdr::framework
