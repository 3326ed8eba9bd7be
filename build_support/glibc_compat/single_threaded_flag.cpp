// Linked into skdcore._prep only, next to its static libstdc++ (CMakeLists.txt): that libstdc++ was
// compiled against glibc >= 2.32 and reads glibc's `__libc_single_threaded`, which would make the
// module need glibc 2.32. This hidden definition satisfies it inside the module instead, as
// "not single-threaded": reference counts always take their atomic path (correct in any process).
extern "C" {
__attribute__((visibility("hidden"))) char __libc_single_threaded = 0;
}
