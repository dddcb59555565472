// Instantiates the header-only storages so the freestanding check compiles and inspects them.
#include "ferro/storage/fault_storage.hpp"
#include "ferro/storage/memory_storage.hpp"
#include "ferro/storage/sliced_storage.hpp"

namespace ferro {
template class FaultStorage<MemoryStorage>;
template class SlicedStorage<4, MemoryStorage>;
template class SlicedStorage<4, FaultStorage<MemoryStorage>>;
}  // namespace ferro
