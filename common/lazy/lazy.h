// Lazy loading of the big shared libraries only some verbs need (libcurl for registries,
// libarchive for layers). `berth ps` or `berth images` never pays for loading them: on these
// machines each page fault costs ~50 us and each shared library ~10 of them at exec.
// The *_stubs.c files (made by scripts/gen-lazy-stubs.py) define every function berth calls
// with the library's own prototype and forward it to the symbol found with dlsym.
#ifndef BERTH_COMMON_LAZY_LAZY_H
#define BERTH_COMMON_LAZY_LAZY_H

#ifdef __cplusplus
extern "C" {
#endif

struct berth_lazy_lib {
  const char* soname;  ///< e.g. "libcurl.so.4"
  void* handle;        ///< set on first use (atomically)
};

/// The address of `name` in `lib`, loading the library on first use. A library or symbol
/// that cannot be found ends the process with one clear line on stderr and exit code 125:
/// the call has no way to report an error in the library's own terms.
void* berth_lazy_symbol(struct berth_lazy_lib* lib, const char* name);

#ifdef __cplusplus
}
#endif
#endif
