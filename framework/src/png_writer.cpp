// PNG writing and reading with libpng (see png_writer.hpp).
#include "ftdr/framework/png_writer.hpp"

#include <png.h>

#include <csetjmp>
#include <cstdio>
#include <memory>

#include "ftdr/sdk/error.hpp"

namespace ftdr::framework {
namespace {

using sdk::Error;
using sdk::ErrorKind;
namespace fs = std::filesystem;

struct FileCloser {
  void operator()(std::FILE* f) const noexcept { std::fclose(f); }
};
using FilePtr = std::unique_ptr<std::FILE, FileCloser>;

bool is_ascii(const std::string& text) {
  for (unsigned char c : text)
    if (c >= 0x80) return false;
  return true;
}

// libpng reports errors by longjmp; its message is kept here so the C++ side can throw it.
void on_png_error(png_structp png, png_const_charp message) {
  auto* out = static_cast<std::string*>(png_get_error_ptr(png));
  if (out) *out = message;
  png_longjmp(png, 1);
}
void on_png_warning(png_structp, png_const_charp) {}

// Everything between setjmp and the end of libpng use lives in this function, with no C++ objects
// whose destructors a longjmp would skip.
bool write_rows(std::FILE* f, const sdk::Image& image, std::vector<png_text>& text, std::string& error) {
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &error, on_png_error, on_png_warning);
  if (!png) return false;
  png_infop info = png_create_info_struct(png);
  if (!info || setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, info ? &info : nullptr);
    return false;
  }
  png_init_io(png, f);
  png_set_compression_level(png, 6);
  png_set_IHDR(png, info, static_cast<png_uint_32>(image.width), static_cast<png_uint_32>(image.height), 8,
               PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  if (!text.empty()) png_set_text(png, info, text.data(), static_cast<int>(text.size()));
  png_write_info(png, info);
  const std::size_t stride = static_cast<std::size_t>(image.width) * 3;
  for (int y = 0; y < image.height; ++y)
    png_write_row(png, const_cast<png_bytep>(image.rgb.data() + stride * static_cast<std::size_t>(y)));
  png_write_end(png, info);
  png_destroy_write_struct(&png, &info);
  return true;
}

bool read_all(std::FILE* f, PngContents& out, std::string& error) {
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &error, on_png_error, on_png_warning);
  if (!png) return false;
  png_infop info = png_create_info_struct(png);
  if (!info || setjmp(png_jmpbuf(png))) {
    png_destroy_read_struct(&png, info ? &info : nullptr, nullptr);
    return false;
  }
  png_init_io(png, f);
  png_read_info(png, info);
  // Whatever the file holds, hand back 8-bit RGB.
  png_set_strip_16(png);
  png_set_strip_alpha(png);
  png_set_palette_to_rgb(png);
  png_set_expand_gray_1_2_4_to_8(png);
  png_set_gray_to_rgb(png);
  png_read_update_info(png, info);
  out.image.width = static_cast<int>(png_get_image_width(png, info));
  out.image.height = static_cast<int>(png_get_image_height(png, info));
  const std::size_t stride = static_cast<std::size_t>(out.image.width) * 3;
  out.image.rgb.assign(stride * static_cast<std::size_t>(out.image.height), 0);
  for (int y = 0; y < out.image.height; ++y)
    png_read_row(png, out.image.rgb.data() + stride * static_cast<std::size_t>(y), nullptr);
  png_read_end(png, info);
  png_textp text = nullptr;
  int count = png_get_text(png, info, &text, nullptr);
  for (int i = 0; i < count; ++i) {
    out.text.emplace_back(text[i].key, text[i].text ? text[i].text : "");
  }
  png_destroy_read_struct(&png, &info, nullptr);
  return true;
}

// Python-like shortest form of a setting: 7.5 -> "7.5", 7 -> "7".
std::string number(double value) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", value);
  return buf;
}

}  // namespace

void write_png(const fs::path& file, const sdk::Image& image, const TextChunks& text_chunks) {
  if (image.width <= 0 || image.height <= 0 ||
      image.rgb.size() != static_cast<std::size_t>(image.width) * static_cast<std::size_t>(image.height) * 3)
    throw Error(ErrorKind::invalid_request,
                file.string() + ": image is " + std::to_string(image.width) + "x" + std::to_string(image.height) +
                    " with " + std::to_string(image.rgb.size()) + " bytes; expected width*height*3 bytes of RGB8");
  std::vector<png_text> text(text_chunks.size());
  for (std::size_t i = 0; i < text_chunks.size(); ++i) {
    const auto& [key, value] = text_chunks[i];
    png_text& t = text[i];
    t.key = const_cast<char*>(key.c_str());
    t.text = const_cast<char*>(value.c_str());
    if (is_ascii(value)) {
      t.compression = PNG_TEXT_COMPRESSION_NONE;
      t.text_length = value.size();
    } else {
      t.compression = PNG_ITXT_COMPRESSION_NONE;
      t.itxt_length = value.size();
      t.lang = nullptr;
      t.lang_key = nullptr;
    }
  }
  std::error_code ec;
  if (file.has_parent_path()) fs::create_directories(file.parent_path(), ec);
  const fs::path tmp = file.string() + ".tmp";
  std::string error;
  {
    FilePtr f(std::fopen(tmp.c_str(), "wb"));
    if (!f) throw Error(ErrorKind::internal, tmp.string() + ": cannot open for writing");
    if (!write_rows(f.get(), image, text, error) || std::fflush(f.get()) != 0) {
      f.reset();
      fs::remove(tmp, ec);
      throw Error(ErrorKind::internal, file.string() + ": writing the PNG failed: " + (error.empty() ? "I/O error" : error));
    }
  }
  fs::rename(tmp, file, ec);
  if (ec) throw Error(ErrorKind::internal, file.string() + ": cannot rename " + tmp.string() + ": " + ec.message());
}

PngContents read_png(const fs::path& file) {
  FilePtr f(std::fopen(file.c_str(), "rb"));
  if (!f) throw Error(ErrorKind::invalid_request, file.string() + ": cannot open the PNG file");
  PngContents out;
  std::string error;
  if (!read_all(f.get(), out, error))
    throw Error(ErrorKind::invalid_request, file.string() + ": not a readable PNG: " + error);
  return out;
}

// Display names only (png_writer.hpp); unknown names are written as they are.
std::string a1111_sampler_name(const std::string& sampler) {
  static const std::vector<std::pair<std::string, std::string>> names{
      {"euler_a", "Euler a"}, {"euler", "Euler"},           {"ddim", "DDIM"},
      {"pndm", "PNDM"},       {"dpmpp_2m", "DPM++ 2M"},      {"dpmpp_2m_karras", "DPM++ 2M Karras"},
      {"lms", "LMS"}};
  for (const auto& [ours, theirs] : names)
    if (ours == sampler) return theirs;
  return sampler;
}

std::string a1111_parameters(const sdk::GenerationParams& params, const std::string& model_name, int image_index) {
  const sdk::GenerationRequest& r = params.request;
  std::string out = r.prompt + "\n";
  if (!r.negative_prompt.empty()) out += "Negative prompt: " + r.negative_prompt + "\n";
  out += "Steps: " + std::to_string(r.steps) + ", Sampler: " + a1111_sampler_name(r.sampler) +
         ", CFG scale: " + number(r.cfg_scale) + ", Seed: " + std::to_string(r.seed + static_cast<std::uint64_t>(image_index)) +
         ", Size: " + std::to_string(params.width) + "x" + std::to_string(params.height) + ", Model: " + model_name;
  if (r.batch > 1) out += ", Batch size: " + std::to_string(r.batch) + ", Batch pos: " + std::to_string(image_index);
  if (r.clip_skip > 1) out += ", Clip skip: " + std::to_string(r.clip_skip);
  if (r.eta != 0) out += ", Eta: " + number(r.eta);
  out += ", Version: ftdr " FTDR_VERSION;
  return out;
}

}  // namespace ftdr::framework
