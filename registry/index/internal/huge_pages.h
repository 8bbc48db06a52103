// Advice to back large arrays of the sign-code tier with huge pages: a tier of millions of
// vectors then costs hundreds of page faults to fill instead of millions. Advice only; nothing
// depends on it being taken. Thread-safe.
#ifndef WEIGHTPRINT_REGISTRY_INDEX_INTERNAL_HUGE_PAGES_H_
#define WEIGHTPRINT_REGISTRY_INDEX_INTERNAL_HUGE_PAGES_H_

#include <cstddef>
#include <cstdint>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace weightprint::registry::internal {

// Advises huge pages over the whole 2 MiB pages inside [data, data + bytes).
inline void AdviseHugePages(const void* data, size_t bytes) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  constexpr uintptr_t kHuge = uintptr_t{2} << 20;
  const uintptr_t begin = (reinterpret_cast<uintptr_t>(data) + kHuge - 1) & ~(kHuge - 1);
  const uintptr_t end = (reinterpret_cast<uintptr_t>(data) + bytes) & ~(kHuge - 1);
  if (end > begin) ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);
#else
  (void)data;
  (void)bytes;
#endif
}

}  // namespace weightprint::registry::internal

#endif  // WEIGHTPRINT_REGISTRY_INDEX_INTERNAL_HUGE_PAGES_H_
