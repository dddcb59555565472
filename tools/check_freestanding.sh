#!/usr/bin/env bash
# Fails when an object of a freestanding layer references the heap (operator new/delete,
# malloc and friends) or the exception runtime. Those layers must run on a microcontroller
# with neither.
set -euo pipefail
forbidden='^(_Znwm|_Znam|_Znwj|_Znaj|_ZnwjSt11align_val_t|_ZnajSt11align_val_t|_ZdlPvj|_ZdaPvj|_ZnwmSt11align_val_t|_ZnamSt11align_val_t|_ZnwmRKSt9nothrow_t|_ZnamRKSt9nothrow_t|_ZdlPv|_ZdaPv|_ZdlPvm|_ZdaPvm|_ZdlPvSt11align_val_t|_ZdlPvmSt11align_val_t|malloc|calloc|realloc|free|aligned_alloc|posix_memalign|__cxa_throw|__cxa_allocate_exception|__cxa_begin_catch|__cxa_rethrow|__gxx_personality_v0|_Unwind_Resume|_ZSt17__throw_bad_allocv|_ZSt20__throw_length_errorPKc|_ZSt24__throw_out_of_range_fmtPKcz|_ZSt19__throw_logic_errorPKc)$'
status=0
count=0
for obj in "$@"; do
  count=$((count + 1))
  bad=$(nm --undefined-only --format=just-symbols "$obj" | grep -E "$forbidden" || true)
  if [ -n "$bad" ]; then
    echo "freestanding check: $obj uses what a microcontroller build cannot have:" >&2
    echo "$bad" | c++filt | sed 's/^/    /' >&2
    status=1
  fi
done
if [ "$status" -eq 0 ]; then
  echo "freestanding check: $count objects, no heap, no exceptions"
fi
exit $status
