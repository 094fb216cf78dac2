# Third-party libraries as link targets, chosen so that berth's executables load as few
# shared libraries as possible: on the machines berth runs on, a page fault costs ~50 us
# and every shared library ~10 of them at exec, so `berth ps` went from 30 ms to a few ms by
# linking the small ones statically and loading the big ones (libcurl, libarchive and their
# ~30 dependencies) with dlopen on first use (common/lazy/).
#
#   berth::seccomp  berth::sqlite3  berth::yaml_cpp   static when the .a is installed
#   berth::curl  berth::archive                       headers + lazy-loading stubs
#   OpenSSL::Crypto  ZLIB::ZLIB                       static (OPENSSL/ZLIB_USE_STATIC_LIBS)
option(BERTH_STATIC_DEPS "link small third-party libraries statically, load big ones lazily" ON)

find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)
if(BERTH_STATIC_DEPS)
  set(OPENSSL_USE_STATIC_LIBS TRUE)
  set(ZLIB_USE_STATIC_LIBS TRUE)
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    add_link_options(-static-libstdc++ -static-libgcc)
  endif()
endif()

# berth_static_or_pkg(TARGET PKG ARCHIVE [EXTRA_LIBS...]): TARGET links ARCHIVE (a .a file
# found in the library path) when BERTH_STATIC_DEPS is on and it exists, else the pkg-config
# module PKG.
function(berth_static_or_pkg target pkg archive)
  pkg_check_modules(_B_${pkg} REQUIRED IMPORTED_TARGET ${pkg})
  add_library(${target} INTERFACE IMPORTED GLOBAL)
  set(_a "")
  if(BERTH_STATIC_DEPS)
    find_library(_B_${pkg}_A NAMES ${archive} NO_CACHE)
    set(_a ${_B_${pkg}_A})
  endif()
  if(_a)
    target_include_directories(${target} INTERFACE ${_B_${pkg}_INCLUDE_DIRS})
    target_link_libraries(${target} INTERFACE ${_a} ${ARGN})
  else()
    target_link_libraries(${target} INTERFACE PkgConfig::_B_${pkg})
  endif()
endfunction()

berth_static_or_pkg(berth::seccomp libseccomp libseccomp.a)
berth_static_or_pkg(berth::sqlite3 sqlite3 libsqlite3.a ${CMAKE_DL_LIBS} m Threads::Threads)
berth_static_or_pkg(berth::yaml_cpp yaml-cpp libyaml-cpp.a)

# berth_lazy_lib(TARGET PKG HEADERS... SYMBOLS_FILE): TARGET gives PKG's headers and, for
# linking, stubs of the symbols listed in SYMBOLS_FILE that dlopen PKG's shared library (by
# its soname) on first call. A symbol missing from the list fails the link ("undefined
# reference"): add it to the list.
function(berth_lazy_lib target pkg symfile)
  set(headers ${ARGN})
  pkg_check_modules(_L_${pkg} REQUIRED IMPORTED_TARGET ${pkg})
  add_library(${target} INTERFACE IMPORTED GLOBAL)
  if(NOT BERTH_STATIC_DEPS)
    target_link_libraries(${target} INTERFACE PkgConfig::_L_${pkg})
    return()
  endif()
  find_library(_L_${pkg}_SO NAMES ${_L_${pkg}_LIBRARIES} PATHS ${_L_${pkg}_LIBRARY_DIRS}
               NO_CACHE REQUIRED)
  file(REAL_PATH ${_L_${pkg}_SO} _real)
  get_filename_component(_real ${_real} NAME)
  string(REGEX MATCH "^lib[^.]+\\.so\\.[0-9]+" _soname ${_real})
  if(NOT _soname)
    message(FATAL_ERROR "lazy ${pkg}: no soname in ${_real}")
  endif()
  string(REPLACE "::" "_" _stubs ${target}_stubs)
  set(_out ${CMAKE_BINARY_DIR}/lazy/${pkg}_stubs.c)
  set(_gen ${CMAKE_SOURCE_DIR}/scripts/gen-lazy-stubs.py)
  file(STRINGS ${symfile} _syms REGEX "^[a-z_0-9]+$")
  add_custom_command(OUTPUT ${_out}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/lazy
    COMMAND python3 ${_gen} ${pkg} ${_soname} ${headers} -- ${_syms} > ${_out}.tmp
    COMMAND ${CMAKE_COMMAND} -E rename ${_out}.tmp ${_out}
    DEPENDS ${_gen} ${symfile} VERBATIM)
  add_library(${_stubs} STATIC ${_out} ${CMAKE_SOURCE_DIR}/common/lazy/lazy.c)
  target_include_directories(${_stubs} PRIVATE ${CMAKE_SOURCE_DIR} ${_L_${pkg}_INCLUDE_DIRS})
  set_target_properties(${_stubs} PROPERTIES POSITION_INDEPENDENT_CODE ON)
  target_include_directories(${target} INTERFACE ${_L_${pkg}_INCLUDE_DIRS})
  target_link_libraries(${target} INTERFACE ${_stubs} ${CMAKE_DL_LIBS})
endfunction()

berth_lazy_lib(berth::curl libcurl ${CMAKE_SOURCE_DIR}/common/lazy/curl.syms curl/curl.h)
berth_lazy_lib(berth::archive libarchive ${CMAKE_SOURCE_DIR}/common/lazy/archive.syms
               archive.h archive_entry.h)
