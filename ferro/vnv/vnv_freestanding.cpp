// Instantiates the header-only heap with freestanding modules so the freestanding check
// compiles and inspects it (no heap, no exceptions).
#include "ferro/alloc/buddy.hpp"
#include "ferro/alloc/linked_list.hpp"
#include "ferro/storage/memory_storage.hpp"
#include "ferro/storage/sliced_storage.hpp"
#include "ferro/vnv/heap.hpp"
#include "ferro/vnv/list.hpp"

namespace ferro::vnv {

template class Heap<BuddyAllocator, NonResidentBuddyAllocator<>, DefaultObjectManager, MemoryStorage>;
template class Heap<LinkedListAllocator, NonResidentBitmapAllocator<>, ClockObjectManager,
                    SlicedStorage<4, MemoryStorage>>;

struct FreestandingProbe {
  std::uint64_t a, b;
};

Status freestanding_probe(Heap<BuddyAllocator, NonResidentBuddyAllocator<>, DefaultObjectManager, MemoryStorage>& h) {
  FERRO_TRY_ASSIGN(auto obj, h.allocate<FreestandingProbe>(FreestandingProbe{1, 2}));
  {
    FERRO_TRY_ASSIGN(auto ref, obj.get_mut());
    ref->a += 1;
  }
  FERRO_TRY_ASSIGN(auto list, (List<std::uint32_t, std::remove_reference_t<decltype(h)>>::create(h)));
  FERRO_TRY(list.push_back(7));
  (void)h.persist();
  return obj.unload();
}

}  // namespace ferro::vnv
