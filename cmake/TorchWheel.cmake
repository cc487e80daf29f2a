# Finds libtorch in a tree unpacked from PyPI's `torch` wheel by scripts/setup-libtorch2.sh
# (FTDR_LIBTORCH_WHEEL_DIR), in place of find_package(Torch): the wheel's own TorchConfig.cmake is
# a CUDA config that wants the CUDA 12 toolkit, cuDNN and libtorch_cuda.so, which a CPU build leaves
# out. Sets what find_package(Torch) sets and the backend uses: TORCH_LIBRARIES, TORCH_CXX_FLAGS,
# TORCH_INCLUDE_DIRS (CPU only: TORCH_CUDA_LIBRARIES stays empty, so FTDR_WITH_CUDA stays off).
set(dir "${FTDR_LIBTORCH_WHEEL_DIR}")
foreach(file include/torch/csrc/api/include/torch/version.h lib/libtorch_cpu.so lib/libc10.so)
  if(NOT EXISTS "${dir}/${file}")
    message(FATAL_ERROR "FTDR_LIBTORCH_WHEEL_DIR=${dir} has no ${file}: run scripts/setup-libtorch2.sh")
  endif()
endforeach()
set(TORCH_INCLUDE_DIRS "${dir}/include" "${dir}/include/torch/csrc/api/include")
# The wheel's libraries are built with the C++11 ABI (setup-libtorch2.sh checks).
set(TORCH_CXX_FLAGS "-D_GLIBCXX_USE_CXX11_ABI=1")
add_library(ftdr_torch_c10 SHARED IMPORTED)
set_target_properties(ftdr_torch_c10 PROPERTIES IMPORTED_LOCATION "${dir}/lib/libc10.so"
                      INTERFACE_INCLUDE_DIRECTORIES "${TORCH_INCLUDE_DIRS}")
# libtorch_cpu holds ATen and the C++ frontend (torch::nn); libtorch.so would add libtorch_cuda.
add_library(ftdr_torch_cpu SHARED IMPORTED)
set_target_properties(ftdr_torch_cpu PROPERTIES IMPORTED_LOCATION "${dir}/lib/libtorch_cpu.so"
                      INTERFACE_LINK_LIBRARIES ftdr_torch_c10)
set(TORCH_LIBRARIES ftdr_torch_cpu ftdr_torch_c10)
file(STRINGS "${dir}/include/torch/csrc/api/include/torch/version.h" lines REGEX "define TORCH_VERSION_(MAJOR|MINOR|PATCH) ")
string(REGEX REPLACE ".*MAJOR ([0-9]+).*MINOR ([0-9]+).*PATCH ([0-9]+).*" "\\1.\\2.\\3" Torch_VERSION "${lines}")
message(STATUS "libtorch ${Torch_VERSION} (CPU) from ${dir}")
set(Torch_FOUND TRUE)
