// Instantiates the freestanding configurations so the freestanding check sees their code: with
// NoFallback and a caller-given region the pool must reference neither the heap nor exceptions.
#include "ferro/pool/buffer_pool.hpp"
#include "ferro/pool/frame_decoder.hpp"

template class ferro::BufferPool<8, ferro::NoFallback>;
template class ferro::BufferPool<63, ferro::NoFallback>;
template class ferro::BufferPool<64, ferro::NoFallback>;
template class ferro::FrameDecoder<ferro::BufferPool<8, ferro::NoFallback>>;
