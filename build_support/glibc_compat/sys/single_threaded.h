// Stand-in for glibc >= 2.32's <sys/single_threaded.h>, found first on the include path of skdcore's
// extension modules (CMakeLists.txt). libstdc++ >= 11 includes the real header when it exists and
// then reads glibc's `__libc_single_threaded` flag in every shared_ptr / string reference count,
// which makes the module need glibc 2.32 (manylinux_2_34) although nothing else does. Here the flag
// is a constant "not single-threaded": the reference counts always use their atomic path (correct in
// every process, and the one a multi-threaded torch process takes anyway), and the module keeps
// torch's own glibc floor (manylinux_2_28).
#pragma once
static const char skdcore_libc_single_threaded = 0;
#define __libc_single_threaded skdcore_libc_single_threaded
