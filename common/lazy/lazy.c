#include "common/lazy/lazy.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

void* berth_lazy_symbol(struct berth_lazy_lib* lib, const char* name) {
  void* h = __atomic_load_n(&lib->handle, __ATOMIC_ACQUIRE);
  if (!h) {
    // dlopen is reference counted and thread safe: two threads racing here both get the
    // same handle.
    h = dlopen(lib->soname, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
      fprintf(stderr, "berth: cannot load %s: %s\n", lib->soname, dlerror());
      exit(125);
    }
    __atomic_store_n(&lib->handle, h, __ATOMIC_RELEASE);
  }
  void* sym = dlsym(h, name);
  if (!sym) {
    fprintf(stderr, "berth: %s has no symbol %s\n", lib->soname, name);
    exit(125);
  }
  return sym;
}
