#!/bin/sh
# Fails when the linked test program contains the heap or the exception runtime. The
# freestanding check (tools/check_freestanding.sh) inspects objects for the 64-bit host's
# mangled names; this looks at the final Cortex-M image, with its 32-bit size_t (_Znwj, not _Znwm).
set -eu
found=$(arm-none-eabi-nm "$1" | awk '{ print $NF }' |
  grep -E '^(malloc|calloc|realloc|free|_malloc_r|_free_r|_sbrk|_sbrk_r|_Znwj|_Znaj|_ZnwjSt11align_val_t|_ZdlPv|_ZdaPv|_ZdlPvj|_ZdaPvj|__cxa_throw|__cxa_allocate_exception|__gxx_personality_v0|_Unwind_Resume)$' || true)
if [ -n "$found" ]; then
  echo "embedded: $1 links what a heap-free, exception-free build must not have:" >&2
  echo "$found" | sed 's/^/    /' >&2
  exit 1
fi
echo "embedded: $1 has no heap and no exception runtime"
