// backend/blas_info.cpp: see blas_info.h.
#include "adapter/blas_info.hpp"

#include <dlfcn.h>
#include <link.h>

#include <filesystem>
#include <string>
#include <vector>

#include "nn/gemm_workers.hpp"

namespace ftdr::torchbe {
namespace {

struct LoadedBlas {
  std::string libblas;   // realpath of the loaded libblas.so.3, if any
  std::string openblas;  // path of a loaded libopenblas*.so, if any
  std::string mkl;       // path of a loaded libmkl*.so, if any
};

std::string real_path(const char* path) {
  std::error_code ec;
  auto canonical = std::filesystem::canonical(path, ec);
  return ec ? std::string(path) : canonical.string();
}

int visit_object(dl_phdr_info* info, size_t, void* data) {
  auto* found = static_cast<LoadedBlas*>(data);
  if (info->dlpi_name == nullptr || info->dlpi_name[0] == '\0') return 0;
  const std::string name = std::filesystem::path(info->dlpi_name).filename().string();
  if (name.rfind("libblas.so", 0) == 0 && found->libblas.empty()) found->libblas = real_path(info->dlpi_name);
  if (name.rfind("libopenblas", 0) == 0 && found->openblas.empty()) found->openblas = info->dlpi_name;
  if (name.rfind("libmkl", 0) == 0 && found->mkl.empty()) found->mkl = info->dlpi_name;
  return 0;
}

// Runs fn(handle) on the already loaded OpenBLAS; false when it is not loaded.
template <typename Fn>
bool with_openblas(const std::string& path, Fn fn) {
  void* handle = path.empty() ? nullptr : dlopen(path.c_str(), RTLD_NOW | RTLD_NOLOAD);
  if (handle == nullptr) return false;
  fn(handle);
  dlclose(handle);
  return true;
}

// openblas_get_config() from the already loaded OpenBLAS (RTLD_NOLOAD: never loads anything).
std::string openblas_config(const std::string& path) {
  std::string text = "OpenBLAS";
  with_openblas(path, [&](void* handle) {
    using ConfigFn = char* (*)();
    if (auto fn = reinterpret_cast<ConfigFn>(dlsym(handle, "openblas_get_config"))) text = fn();
  });
  while (!text.empty() && text.back() == ' ') text.pop_back();
  return text;
}

// The alternatives folder names the flavour: openblas-pthread, openblas-openmp, blas (reference), atlas.
std::string flavour_of(const std::string& libblas_path) {
  return std::filesystem::path(libblas_path).parent_path().filename().string();
}

LoadedBlas loaded_blas() {
  LoadedBlas found;
  dl_iterate_phdr(visit_object, &found);
  return found;
}

}  // namespace

bool set_openblas_threads(int threads) {
  const LoadedBlas found = loaded_blas();
  bool set = false;
  with_openblas(found.openblas, [&](void* handle) {
    using SetFn = void (*)(int);
    if (auto fn = reinterpret_cast<SetFn>(dlsym(handle, "openblas_set_num_threads"))) {
      fn(threads);
      set = true;
      note_blas_threads(threads);
    }
  });
  return set;
}

int openblas_threads() {
  int threads = 0;
  with_openblas(loaded_blas().openblas, [&](void* handle) {
    using GetFn = int (*)();
    if (auto fn = reinterpret_cast<GetFn>(dlsym(handle, "openblas_get_num_threads"))) threads = fn();
  });
  return threads;
}

std::string describe_blas() {
  const LoadedBlas found = loaded_blas();
  const std::string flavour = found.libblas.empty() ? std::string() : flavour_of(found.libblas);
  if (!found.openblas.empty() || flavour.rfind("openblas", 0) == 0) {
    const std::string lib = found.openblas.empty() ? found.libblas : found.openblas;
    std::string where = found.libblas.empty() ? lib : flavour + ", " + found.libblas;
    return "blas: " + openblas_config(lib) + " (" + where + ")";
  }
  if (!found.mkl.empty()) return "blas: Intel MKL (" + found.mkl + ")";
  if (flavour == "blas")
    return "blas: reference BLAS (slow; install libopenblas0-pthread) (" + found.libblas + ")";
  if (!found.libblas.empty()) return "blas: " + flavour + " (" + found.libblas + ")";
  return "blas: no BLAS shared library loaded (linked statically into libtorch, e.g. MKL in pip builds)";
}

}  // namespace ftdr::torchbe
