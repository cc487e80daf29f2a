// PNG writing and reading with libpng (see png_writer.hpp).
#include "ftdr/framework/output/png_writer.hpp"

#include <fcntl.h>
#include <png.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <memory>

#include "ftdr/sdk/error.hpp"

namespace ftdr::framework {
namespace {

using sdk::Error;
using sdk::ErrorKind;
namespace fs = std::filesystem;

// write_new_png gives up after this many taken names (a folder of 10000 "<prefix>-0-<n>.png").
constexpr int kMaxNameAttempts = 10000;

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

std::vector<png_text> as_png_text(const TextChunks& text_chunks) {
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
  return text;
}

// A new file of our own beside the final name ("<dir>/.<name>.<pid>-<n>.tmp"), created with
// O_EXCL so that two writers — threads or processes — never share a temporary file. The leading
// dot keeps it out of the numbering scan (png_sink.cpp).
FilePtr open_temp(const fs::path& file, fs::path& tmp) {
  static std::atomic<unsigned> counter{0};
  const fs::path dir = file.has_parent_path() ? file.parent_path() : fs::path(".");
  for (int attempt = 0; attempt < 100; ++attempt) {
    tmp = dir / ("." + file.filename().string() + "." + std::to_string(::getpid()) + "-" +
                 std::to_string(counter.fetch_add(1)) + ".tmp");
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd >= 0) {
      FilePtr f(::fdopen(fd, "wb"));
      if (!f) ::close(fd);
      return f;
    }
    if (errno != EEXIST)
      throw Error(ErrorKind::internal, tmp.string() + ": cannot create: " + std::strerror(errno));
  }
  throw Error(ErrorKind::internal, dir.string() + ": no free temporary file name");
}

// Encodes the PNG into a fresh temporary file beside `file` and returns its path.
fs::path write_temp(const fs::path& file, const sdk::Image& image, const TextChunks& text_chunks) {
  if (image.width <= 0 || image.height <= 0 ||
      image.rgb.size() != static_cast<std::size_t>(image.width) * static_cast<std::size_t>(image.height) * 3)
    throw Error(ErrorKind::invalid_request, file.string() + ": image is " + std::to_string(image.width) +
                                                "x" + std::to_string(image.height) + " with " +
                                                std::to_string(image.rgb.size()) +
                                                " bytes; expected width*height*3 bytes of RGB8");
  std::vector<png_text> text = as_png_text(text_chunks);
  std::error_code ec;
  if (file.has_parent_path()) fs::create_directories(file.parent_path(), ec);
  fs::path tmp;
  FilePtr f = open_temp(file, tmp);
  std::string error;
  const bool written = f && write_rows(f.get(), image, text, error);
  const bool closed = f && std::fclose(f.release()) == 0;
  if (!written || !closed) {
    fs::remove(tmp, ec);
    throw Error(ErrorKind::internal,
                file.string() + ": writing the PNG failed: " + (error.empty() ? "I/O error" : error));
  }
  return tmp;
}

// Gives `tmp` the name `file` only if no file has it: renameat2(RENAME_NOREPLACE), or link() where
// the file system lacks it. Both are atomic, so of two writers racing for a name exactly one wins.
bool publish_no_replace(const fs::path& tmp, const fs::path& file) {
  if (::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, file.c_str(), RENAME_NOREPLACE) == 0) return true;
  if (errno == EEXIST) return false;
  if (errno != EINVAL && errno != ENOSYS && errno != ENOTSUP)
    throw Error(ErrorKind::internal,
                file.string() + ": cannot rename " + tmp.string() + ": " + std::strerror(errno));
  if (::link(tmp.c_str(), file.c_str()) != 0) {
    if (errno == EEXIST) return false;
    throw Error(ErrorKind::internal,
                file.string() + ": cannot link " + tmp.string() + ": " + std::strerror(errno));
  }
  ::unlink(tmp.c_str());
  return true;
}

}  // namespace

void write_png(const fs::path& file, const sdk::Image& image, const TextChunks& text_chunks) {
  const fs::path tmp = write_temp(file, image, text_chunks);
  std::error_code ec;
  fs::rename(tmp, file, ec);
  if (ec) {
    fs::remove(tmp);
    throw Error(ErrorKind::internal, file.string() + ": cannot rename " + tmp.string() + ": " + ec.message());
  }
}

fs::path write_new_png(const fs::path& dir, const std::function<std::string(int)>& name,
                       const sdk::Image& image, const TextChunks& text_chunks) {
  const fs::path tmp = write_temp(dir / name(0), image, text_chunks);
  for (int attempt = 0; attempt < kMaxNameAttempts; ++attempt) {
    fs::path file = dir / name(attempt);
    try {
      if (publish_no_replace(tmp, file)) return file;
    } catch (...) {
      std::error_code ec;
      fs::remove(tmp, ec);
      throw;
    }
  }
  std::error_code ec;
  fs::remove(tmp, ec);
  throw Error(ErrorKind::internal, (dir / name(0)).string() + " and the next " +
                                       std::to_string(kMaxNameAttempts - 1) + " names are taken");
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

}  // namespace ftdr::framework
