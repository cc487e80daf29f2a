# Finds libtorch in a tree unpacked from PyPI's `torch` wheel by scripts/setup-libtorch2.sh
# (FTDR_LIBTORCH_WHEEL_DIR), in place of find_package(Torch): the wheel's own TorchConfig.cmake is
# a CUDA config that wants the CUDA 12 toolkit, cuDNN and libtorch_cuda.so, which a CPU build leaves
# out. Sets what find_package(Torch) sets and the backend uses: TORCH_LIBRARIES, TORCH_CXX_FLAGS,
# TORCH_INCLUDE_DIRS and TORCH_CUDA_LIBRARIES (c10_cuda + the CUDA 12 runtime, so the backend's
# CUDA-only code compiles and links: FTDR_WITH_CUDA). The dir may also be a full `pip install torch`
# (site-packages/torch, the nvidia packages beside it): then libtorch_cuda.so is linked too, and the
# build runs on GPUs.
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

# The CUDA 12 runtime: unpacked into the tree by setup-libtorch2.sh, or the nvidia-cuda-runtime-cu12
# package beside a full install. Not the system CUDA toolkit, whose version need not match.
find_path(FTDR_TORCH_CUDART_INCLUDE cuda_runtime_api.h NO_DEFAULT_PATH NO_CACHE
          PATHS "${dir}/cuda/include" "${dir}/../nvidia/cuda_runtime/include")
find_file(FTDR_TORCH_CUDART libcudart.so.12 NO_DEFAULT_PATH NO_CACHE
          PATHS "${dir}/lib" "${dir}/../nvidia/cuda_runtime/lib")
if(EXISTS "${dir}/lib/libc10_cuda.so" AND FTDR_TORCH_CUDART_INCLUDE AND FTDR_TORCH_CUDART)
  add_library(ftdr_torch_c10_cuda SHARED IMPORTED)
  set_target_properties(ftdr_torch_c10_cuda PROPERTIES IMPORTED_LOCATION "${dir}/lib/libc10_cuda.so"
                        INTERFACE_INCLUDE_DIRECTORIES "${FTDR_TORCH_CUDART_INCLUDE}"
                        INTERFACE_LINK_LIBRARIES "ftdr_torch_c10;${FTDR_TORCH_CUDART}")
  set(TORCH_CUDA_LIBRARIES ftdr_torch_c10_cuda)
  # libtorch_cuda registers the CUDA kernels and hooks when loaded; nothing references it by name.
  if(EXISTS "${dir}/lib/libtorch_cuda.so")
    list(APPEND TORCH_CUDA_LIBRARIES "-Wl,--no-as-needed" "${dir}/lib/libtorch_cuda.so" "-Wl,--as-needed")
  endif()
  list(APPEND TORCH_LIBRARIES ${TORCH_CUDA_LIBRARIES})
endif()
file(STRINGS "${dir}/include/torch/csrc/api/include/torch/version.h" lines REGEX "define TORCH_VERSION_(MAJOR|MINOR|PATCH) ")
string(REGEX REPLACE ".*MAJOR ([0-9]+).*MINOR ([0-9]+).*PATCH ([0-9]+).*" "\\1.\\2.\\3" Torch_VERSION "${lines}")
if(EXISTS "${dir}/lib/libtorch_cuda.so")
  set(kind "CUDA")
elseif(TORCH_CUDA_LIBRARIES)
  set(kind "CPU; CUDA code compiled, without CUDA kernels")
else()
  set(kind "CPU")
endif()
message(STATUS "libtorch ${Torch_VERSION} (${kind}) from ${dir}")
set(Torch_FOUND TRUE)
