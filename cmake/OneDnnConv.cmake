# FTDR_ONEDNN_CONV: whether the libtorch backend calls oneDNN itself for the convolutions it runs in
# bands of rows (plugins/backend/libtorch/nn/onednn_conv.cpp) and for large Linear GEMMs
# (nn/onednn_linear.cpp). Only where that is the oneDNN libtorch runs on: libtorch's libtorch_cpu
# links a shared libdnnl.so.2 (Debian's libtorch 1.13 links Debian's libdnnl 2.6) and that
# oneDNN's 2.x headers are installed (libdnnl-dev). A second
# oneDNN beside a wheel's built-in one would run its own threads and primitive cache, and oneDNN
# 3.x dropped the 2.x operation descriptors the code uses: both get libtorch's own call instead.
# AUTO (the default) turns it on where all this holds; ON requires it; OFF never.
set(FTDR_ONEDNN_CONV AUTO CACHE STRING "Call oneDNN directly for banded convolutions and large Linear GEMMs: AUTO, ON or OFF")
set_property(CACHE FTDR_ONEDNN_CONV PROPERTY STRINGS AUTO ON OFF)

function(ftdr_onednn_conv_reason out_var)
  if(FTDR_LIBTORCH_WHEEL_DIR)
    set(${out_var} "libtorch is a wheel's, with its own oneDNN built in" PARENT_SCOPE)
    return()
  endif()
  find_path(FTDR_DNNL_INCLUDE_DIR oneapi/dnnl/dnnl_version.h)
  find_library(FTDR_DNNL_LIBRARY NAMES libdnnl.so.2 dnnl)
  if(NOT FTDR_DNNL_INCLUDE_DIR OR NOT FTDR_DNNL_LIBRARY)
    set(${out_var} "no oneDNN headers and library (apt-get install libdnnl-dev)" PARENT_SCOPE)
    return()
  endif()
  file(STRINGS "${FTDR_DNNL_INCLUDE_DIR}/oneapi/dnnl/dnnl_version.h" major REGEX "define DNNL_VERSION_MAJOR")
  if(NOT major MATCHES "DNNL_VERSION_MAJOR +2$")
    set(${out_var} "oneDNN's headers are not 2.x (${major})" PARENT_SCOPE)
    return()
  endif()
  get_filename_component(torch_lib_dir "${TORCH_LIBRARY}" DIRECTORY)
  find_library(FTDR_TORCH_CPU_LIBRARY torch_cpu HINTS "${torch_lib_dir}" NO_DEFAULT_PATH)
  if(NOT FTDR_TORCH_CPU_LIBRARY OR NOT CMAKE_READELF)
    set(${out_var} "libtorch_cpu or readelf not found" PARENT_SCOPE)
    return()
  endif()
  execute_process(COMMAND "${CMAKE_READELF}" -d "${FTDR_TORCH_CPU_LIBRARY}" OUTPUT_VARIABLE dynamic ERROR_QUIET)
  if(NOT dynamic MATCHES "\\[libdnnl\\.so\\.2\\]")
    set(${out_var} "${FTDR_TORCH_CPU_LIBRARY} does not link libdnnl.so.2" PARENT_SCOPE)
    return()
  endif()
  set(${out_var} "" PARENT_SCOPE)
endfunction()

# ftdr_use_onednn_conv(<target> <source>): compiles <source> with FTDR_ONEDNN_CONV defined and
# oneDNN's headers, and links <target> to oneDNN, where FTDR_ONEDNN_CONV and the checks above allow.
# <source> builds alone, without the target's precompiled headers: a definition the PCH was built
# without would make GCC refuse it (-Winvalid-pch) in every target that reuses it.
function(ftdr_use_onednn_conv target source)
  get_filename_component(name "${source}" NAME)
  if(FTDR_ONEDNN_CONV STREQUAL "OFF")
    message(STATUS "oneDNN called directly by ${name}: no (FTDR_ONEDNN_CONV=OFF)")
    return()
  endif()
  ftdr_onednn_conv_reason(reason)
  if(reason)
    if(FTDR_ONEDNN_CONV STREQUAL "ON")
      message(FATAL_ERROR "FTDR_ONEDNN_CONV=ON, but ${reason}")
    endif()
    message(STATUS "oneDNN called directly by ${name}: no (${reason})")
    return()
  endif()
  message(STATUS "oneDNN called directly by ${name}: yes (${FTDR_DNNL_LIBRARY})")
  set_source_files_properties(${source} PROPERTIES COMPILE_DEFINITIONS FTDR_ONEDNN_CONV
    SKIP_PRECOMPILE_HEADERS ON SKIP_UNITY_BUILD_INCLUSION ON)
  # /usr/include as an -isystem directory would hide the C library's headers from <cstdlib>.
  if(NOT FTDR_DNNL_INCLUDE_DIR IN_LIST CMAKE_CXX_IMPLICIT_INCLUDE_DIRECTORIES)
    set_property(SOURCE ${source} APPEND PROPERTY INCLUDE_DIRECTORIES "${FTDR_DNNL_INCLUDE_DIR}")
  endif()
  target_link_libraries(${target} PUBLIC "${FTDR_DNNL_LIBRARY}")
endfunction()
