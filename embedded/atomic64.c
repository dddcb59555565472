/* 64-bit atomics for a single-core Cortex-M3, which has 32-bit LDREX/STREX only: GCC calls these
   __atomic_*_8 helpers (libatomic's names) for std::atomic<std::uint64_t>, which BufferPool's slot
   map uses. With one core, masking interrupts (PRIMASK) around the access makes it atomic; a
   firmware on a multi-core part would need a lock instead. */
#include <stdbool.h>
#include <stdint.h>

static inline uint32_t lock(void) {
  uint32_t primask;
  __asm__ volatile("mrs %0, primask\n cpsid i" : "=r"(primask)::"memory");
  return primask;
}

static inline void unlock(uint32_t primask) { __asm__ volatile("msr primask, %0" ::"r"(primask) : "memory"); }

uint64_t __atomic_load_8(const volatile void* p, int order) {
  (void)order;
  const uint32_t k = lock();
  const uint64_t v = *(const volatile uint64_t*)p;
  unlock(k);
  return v;
}

void __atomic_store_8(volatile void* p, uint64_t v, int order) {
  (void)order;
  const uint32_t k = lock();
  *(volatile uint64_t*)p = v;
  unlock(k);
}

uint64_t __atomic_exchange_8(volatile void* p, uint64_t v, int order) {
  (void)order;
  const uint32_t k = lock();
  const uint64_t old = *(volatile uint64_t*)p;
  *(volatile uint64_t*)p = v;
  unlock(k);
  return old;
}

bool __atomic_compare_exchange_8(volatile void* p, void* expected, uint64_t desired, bool weak, int success,
                                 int failure) {
  (void)weak;
  (void)success;
  (void)failure;
  const uint32_t k = lock();
  const uint64_t cur = *(volatile uint64_t*)p;
  const bool ok = cur == *(uint64_t*)expected;
  if (ok)
    *(volatile uint64_t*)p = desired;
  else
    *(uint64_t*)expected = cur;
  unlock(k);
  return ok;
}

#define FERRO_FETCH_OP(name, op)                                    \
  uint64_t __atomic_fetch_##name##_8(volatile void* p, uint64_t v, int order) { \
    (void)order;                                                    \
    const uint32_t k = lock();                                      \
    const uint64_t old = *(volatile uint64_t*)p;                    \
    *(volatile uint64_t*)p = old op v;                              \
    unlock(k);                                                      \
    return old;                                                     \
  }

FERRO_FETCH_OP(add, +)
FERRO_FETCH_OP(sub, -)
FERRO_FETCH_OP(and, &)
FERRO_FETCH_OP(or, |)
FERRO_FETCH_OP(xor, ^)
