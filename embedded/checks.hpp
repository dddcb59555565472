// One function per freestanding layer; each records failed checks through CHECK.
#pragma once

#include "semihost.hpp"

namespace embedded {

extern int failed_checks;
void check_failed(const char* what, const char* file, int line) noexcept;

void check_core();
void check_storage();
void check_alloc();
void check_pool();
void check_gc();
void check_mrfs();
void check_vnv();

}  // namespace embedded

#define CHECK(cond)                                                   \
  do {                                                                \
    if (!(cond)) ::embedded::check_failed(#cond, __FILE__, __LINE__); \
  } while (0)
