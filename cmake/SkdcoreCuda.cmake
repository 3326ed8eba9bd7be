# CUDA discovery for the CUDA kernels (docs/build-cuda.md): whether to build them (SKDCORE_CUDA), a
# CUDA toolkit that torch's CMake accepts, and the architectures torch's CMake compiles for.
#
# In:  SKDCORE_CUDA (AUTO/ON/OFF), SKDCORE_CUDA_ARCHS (empty: the archs the CUDA torch ships),
#      _torch_cuda (torch.version.cuda, empty for a CPU torch), Python_EXECUTABLE.
# Out: _with_cuda (ON/OFF), SKDCORE_CUDA_ARCH_LIST (what `skd info` reports), and, before
#      find_package(Torch): CMAKE_CUDA_COMPILER, CUDAToolkit_ROOT, CUDA_TOOLKIT_ROOT_DIR, TORCH_CUDA_ARCH_LIST.
#
# torch's CMake (Caffe2/public/cuda.cmake) wants one toolkit folder holding nvcc, the cuBLAS, cuSPARSE
# and NVRTC headers and unversioned libraries (libnvrtc.so, ...). A full CUDA toolkit is used as it is.
# A partial one (nvcc + cudart, e.g. pip's nvidia-cuda-nvcc) is completed from the CUDA torch's own
# `nvidia` wheels (nvidia/cu13/include, .../lib: the very libraries torch loads): a folder of links
# under the build folder, <build>/cuda-toolkit, nvcc included, so nvcc's own include path covers them.

set(_with_cuda OFF)
set(SKDCORE_CUDA_ARCH_LIST "")
if(SKDCORE_CUDA STREQUAL "OFF")
  return()
endif()

function(_skdcore_cuda_unavailable why)
  if(SKDCORE_CUDA STREQUAL "ON")
    message(FATAL_ERROR "SKDCORE_CUDA=ON but ${why}. Install a CUDA torch (pip install --isolated "
                        "torch==2.13.0) and nvcc of the same CUDA major, or build with SKDCORE_CUDA=OFF "
                        "(docs/build-cuda.md)")
  endif()
  message(STATUS "skdcore: no CUDA kernels: ${why}")
endfunction()

if(NOT _torch_cuda)
  _skdcore_cuda_unavailable("torch ${SKDCORE_TORCH_VERSION} is not a CUDA build")
  return()
endif()

# --- nvcc: CMAKE_CUDA_COMPILER, $CUDACXX, $CUDA_HOME/bin, PATH, /usr/local/cuda/bin --------------
set(_nvcc "${CMAKE_CUDA_COMPILER}")
if(NOT _nvcc AND DEFINED ENV{CUDACXX})
  set(_nvcc "$ENV{CUDACXX}")
endif()
if(NOT _nvcc)
  find_program(_skdcore_nvcc nvcc HINTS "$ENV{CUDA_HOME}/bin" "$ENV{CUDA_PATH}/bin" PATHS /usr/local/cuda/bin)
  set(_nvcc "${_skdcore_nvcc}")
endif()
if(NOT _nvcc)
  _skdcore_cuda_unavailable("nvcc is not found (PATH, CUDACXX, CUDA_HOME)")
  return()
endif()
# nvcc may be a wrapper script: its dry run names the folder of the real one (_HERE_).
execute_process(COMMAND "${_nvcc}" -dryrun -c -x cu /dev/null -o /dev/null
                OUTPUT_VARIABLE _dry ERROR_VARIABLE _dry RESULT_VARIABLE _dry_rc)
if(NOT _dry MATCHES "#\\$ _HERE_=([^\n]*)")
  _skdcore_cuda_unavailable("'${_nvcc} -dryrun' does not run (${_dry_rc})")
  return()
endif()
get_filename_component(_nvcc_root "${CMAKE_MATCH_1}/.." ABSOLUTE)

# --- the toolkit folder torch's CMake will search ------------------------------------------------
function(_skdcore_has_all root out)
  set(_ok TRUE)
  foreach(header cuda_runtime.h cublas_v2.h cusparse.h nvrtc.h)
    if(NOT EXISTS "${root}/include/${header}")
      set(_ok FALSE)
    endif()
  endforeach()
  foreach(lib libcudart.so libcublas.so libnvrtc.so libcusparse.so)
    if(NOT EXISTS "${root}/lib64/${lib}" AND NOT EXISTS "${root}/lib/${lib}")
      set(_ok FALSE)
    endif()
  endforeach()
  set(${out} ${_ok} PARENT_SCOPE)
endfunction()

# _skdcore_link_entries(src dst): a link in dst to every entry of src that dst does not have yet.
function(_skdcore_link_entries src dst)
  file(GLOB _entries LIST_DIRECTORIES TRUE "${src}/*")
  foreach(entry IN LISTS _entries)
    get_filename_component(name "${entry}" NAME)
    if(NOT EXISTS "${dst}/${name}" AND NOT IS_SYMLINK "${dst}/${name}")
      file(CREATE_LINK "${entry}" "${dst}/${name}" SYMBOLIC)
    endif()
  endforeach()
endfunction()

_skdcore_has_all("${_nvcc_root}" _full_toolkit)
if(_full_toolkit)
  set(_toolkit "${_nvcc_root}")
  message(STATUS "skdcore: CUDA toolkit ${_toolkit}")
else()
  # The CUDA torch's nvidia wheels: every <site-packages>/nvidia/<name>/{include,lib}.
  execute_process(
    COMMAND "${Python_EXECUTABLE}" -c
            "import importlib.util, os\nspec = importlib.util.find_spec('nvidia')\nfor root in (spec.submodule_search_locations if spec else []):\n    for name in sorted(os.listdir(root)):\n        print(os.path.join(root, name))"
    OUTPUT_VARIABLE _nvidia_dirs OUTPUT_STRIP_TRAILING_WHITESPACE)
  string(REPLACE "\n" ";" _nvidia_dirs "${_nvidia_dirs}")
  set(_toolkit "${CMAKE_BINARY_DIR}/cuda-toolkit")
  file(REMOVE_RECURSE "${_toolkit}")
  file(MAKE_DIRECTORY "${_toolkit}/bin" "${_toolkit}/include" "${_toolkit}/lib64")
  file(CREATE_LINK lib64 "${_toolkit}/lib" SYMBOLIC)
  # nvcc's own files first (nvcc.profile makes the new folder nvcc's TOP), then the wheels' headers
  # and libraries where nvcc's folder has none.
  _skdcore_link_entries("${_nvcc_root}/bin" "${_toolkit}/bin")
  if(EXISTS "${_nvcc_root}/nvvm")
    file(CREATE_LINK "${_nvcc_root}/nvvm" "${_toolkit}/nvvm" SYMBOLIC)
  endif()
  _skdcore_link_entries("${_nvcc_root}/include" "${_toolkit}/include")
  foreach(lib_dir "${_nvcc_root}/lib64" "${_nvcc_root}/lib")
    if(EXISTS "${lib_dir}")
      _skdcore_link_entries("${lib_dir}" "${_toolkit}/lib64")
      break()
    endif()
  endforeach()
  foreach(dir IN LISTS _nvidia_dirs)
    if(EXISTS "${dir}/include")
      _skdcore_link_entries("${dir}/include" "${_toolkit}/include")
    endif()
    if(EXISTS "${dir}/lib")
      _skdcore_link_entries("${dir}/lib" "${_toolkit}/lib64")
    endif()
  endforeach()
  # The wheels carry only versioned sonames (libnvrtc.so.13); find_library wants libnvrtc.so.
  file(GLOB _versioned RELATIVE "${_toolkit}/lib64" "${_toolkit}/lib64/lib*.so.*")
  foreach(lib IN LISTS _versioned)
    if(lib MATCHES "^(lib[^/]+\\.so)\\.[0-9.]+$" AND NOT EXISTS "${_toolkit}/lib64/${CMAKE_MATCH_1}")
      file(CREATE_LINK "${lib}" "${_toolkit}/lib64/${CMAKE_MATCH_1}" SYMBOLIC)
    endif()
  endforeach()
  _skdcore_has_all("${_toolkit}" _complete)
  if(NOT _complete)
    _skdcore_cuda_unavailable("nvcc's folder ${_nvcc_root} is not a full CUDA toolkit and the CUDA "
                              "torch's nvidia wheels (${_nvidia_dirs}) do not complete it "
                              "(cublas_v2.h, cusparse.h, nvrtc.h, libcublas, libnvrtc, libcusparse)")
    return()
  endif()
  message(STATUS "skdcore: CUDA toolkit ${_toolkit}: nvcc from ${_nvcc_root}, the rest from torch's nvidia wheels")
endif()

set(CMAKE_CUDA_COMPILER "${_toolkit}/bin/nvcc" CACHE FILEPATH "nvcc of the CUDA kernels" FORCE)
set(CUDAToolkit_ROOT "${_toolkit}")
set(CUDA_TOOLKIT_ROOT_DIR "${_toolkit}" CACHE PATH "CUDA toolkit (torch's FindCUDA)" FORCE)

# --- architectures: TORCH_CUDA_ARCH_LIST (torch's CMake ignores CMAKE_CUDA_ARCHITECTURES) --------
# SKDCORE_CUDA_ARCHS "80;90" or "sm_80;sm_90" -> "8.0;9.0+PTX"; empty: the archs the torch ships.
set(_archs "${SKDCORE_CUDA_ARCHS}")
if(NOT _archs)
  execute_process(COMMAND "${Python_EXECUTABLE}" -c
                          "import torch; print(';'.join(torch.cuda.get_arch_list()))"
                  OUTPUT_VARIABLE _archs OUTPUT_STRIP_TRAILING_WHITESPACE)
endif()
string(REPLACE "," ";" _archs "${_archs}")
set(_torch_list "")
set(_ptx_given FALSE)
foreach(arch IN LISTS _archs)
  string(STRIP "${arch}" arch)
  if(arch MATCHES "^compute_")  # a PTX-only entry of torch's own list: its sm_ twin is there too
    continue()
  endif()
  string(REGEX REPLACE "^sm_" "" arch "${arch}")
  if(NOT arch MATCHES "^([0-9]+)([0-9])([af]?)(\\+PTX)?$")
    message(FATAL_ERROR "SKDCORE_CUDA_ARCHS: '${arch}' is not an architecture like 90, 90a, sm_90 or "
                        "120+PTX (list: '${SKDCORE_CUDA_ARCHS}')")
  endif()
  if(CMAKE_MATCH_4)
    set(_ptx_given TRUE)
  endif()
  list(APPEND _torch_list "${CMAKE_MATCH_1}.${CMAKE_MATCH_2}${CMAKE_MATCH_3}${CMAKE_MATCH_4}")
endforeach()
if(NOT _torch_list)
  message(FATAL_ERROR "skdcore: no CUDA architecture to build for (SKDCORE_CUDA_ARCHS='${SKDCORE_CUDA_ARCHS}', "
                      "torch.cuda.get_arch_list() empty)")
endif()
list(REMOVE_DUPLICATES _torch_list)
if(NOT _ptx_given)  # PTX of the newest arch: later GPUs JIT-compile it
  list(POP_BACK _torch_list _newest)
  list(APPEND _torch_list "${_newest}+PTX")
endif()
set(TORCH_CUDA_ARCH_LIST "${_torch_list}")
# What `skd info` lists: sm_75;...;sm_120;compute_120 (as torch.cuda.get_arch_list() does).
set(SKDCORE_CUDA_ARCH_LIST "")
foreach(arch IN LISTS _torch_list)
  string(REPLACE "." "" arch "${arch}")
  string(REPLACE "+PTX" "" sm "${arch}")
  list(APPEND SKDCORE_CUDA_ARCH_LIST "sm_${sm}")
  if(arch MATCHES "\\+PTX$")
    list(APPEND SKDCORE_CUDA_ARCH_LIST "compute_${sm}")
  endif()
endforeach()
message(STATUS "skdcore: CUDA architectures ${TORCH_CUDA_ARCH_LIST}")

enable_language(CUDA)
set(CMAKE_CUDA_STANDARD 17)
# torch's CMake passes the archs as -gencode flags and turns CMAKE_CUDA_ARCHITECTURES off, warning
# when it was set: leave it unset.
unset(CMAKE_CUDA_ARCHITECTURES)
unset(CMAKE_CUDA_ARCHITECTURES CACHE)
set(_with_cuda ON)
