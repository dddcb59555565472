// Instantiates the Store over the emulated flash so the freestanding check inspects its code.
#include "ferro/mrfs/store.hpp"

namespace ferro::mrfs {
template class Store<EmulatedFlash, 64>;
}  // namespace ferro::mrfs
