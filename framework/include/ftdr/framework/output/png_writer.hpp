// ftdr/framework/output/png_writer.hpp: RGB8 PNG files with the generation parameters embedded.
//
// Every image FTDR writes carries two text chunks: `parameters`, in the AUTOMATIC1111 web UI's
// format (so existing tools read the prompt, seed and settings back), and `ftdr_request`, the
// whole request as JSON. The bytes depend on the pixels and the text only (no time chunk), so the
// same job writes byte-identical files.
//
//   write_png(path, image, {{"parameters", a1111_parameters(params, "ftdr-shapes", 0)},
//                           {"ftdr_request", request_json(params.request).dump() (request_json.hpp)}});
//   PngContents back = read_png(path);   // pixels and text chunks, for tests and tools
#pragma once
#include <filesystem>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "ftdr/sdk/types.hpp"

namespace ftdr::framework {

using TextChunks = std::vector<std::pair<std::string, std::string>>;

// Writes `image` as an 8-bit RGB PNG with the text chunks in order (tEXt when the text is ASCII,
// iTXt/UTF-8 otherwise). Writes to a temporary file of its own (".<name>.<pid>-<n>.tmp", created
// exclusively) and renames it, so a reader never sees half a file. Replaces `file` if it exists.
// Throws sdk::Error(internal) naming the file on I/O errors, invalid_request on a bad image.
void write_png(const std::filesystem::path& file, const sdk::Image& image, const TextChunks& text_chunks);

// Like write_png, but never replaces a file: the image gets the first of name(0), name(1), ... that
// no file in `dir` has, claimed atomically (rename without replace, or link), so writers in other
// threads or processes racing for a name never lose an image. Returns the path written. Throws
// sdk::Error(internal) after 10000 taken names.
std::filesystem::path write_new_png(const std::filesystem::path& dir,
                                    const std::function<std::string(int)>& name, const sdk::Image& image,
                                    const TextChunks& text_chunks);

struct PngContents {
  sdk::Image image;  // converted to RGB8 whatever the file's format
  TextChunks text;   // tEXt, zTXt and iTXt chunks in file order
};
// Throws sdk::Error(invalid_request) naming the file when it is missing or not a PNG.
PngContents read_png(const std::filesystem::path& file);

// AUTOMATIC1111's `parameters` text for image `image_index` of the request (its seed is
// request.seed + image_index):
//   <prompt>
//   Negative prompt: <negative>          (only when there is one)
//   Steps: 20, Sampler: Euler a, CFG scale: 7.5, Seed: 42, Size: 512x512, Model: <model_name>, ...
// Escaped so that A1111's reader parses back the same prompt (a1111_parameters.cpp has the rule):
// line breaks are "\n"; a prompt line starting with "Negative prompt:" gets a "\" before it;
// settings with ',' or ':' in them are JSON strings.
std::string a1111_parameters(const sdk::GenerationParams& params, const std::string& model_name,
                             int image_index);

// The A1111 display name of a sampler ("euler_a" -> "Euler a"). A fixed table of the names A1111
// knows, for the metadata only: it never decides which samplers exist (the backend does, see
// sdk::ModelBackend::samplers()), and any other name, e.g. another backend's, passes through as is.
std::string a1111_sampler_name(const std::string& sampler);

}  // namespace ftdr::framework
