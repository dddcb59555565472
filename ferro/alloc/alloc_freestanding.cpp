// Instantiates the header-only allocators so the freestanding check compiles and inspects them.
#include "ferro/alloc/chunk.hpp"

namespace ferro {
template class ChunkAllocator<64>;
template class ChunkAllocator<256>;
}  // namespace ferro
