// The Buffer concept: what a decoder needs from its memory. It asks for the next n writable
// bytes of the message it is reading (a header, then a body whose length the header gave) and,
// once the message is whole, takes ownership of it as a Slice. BufferPool and SystemBuffer
// satisfy it.
//
// A span from get_writable is valid until the next call on the buffer: the message being built
// may move when it outgrows the room it started in. The bytes written so far move with it.
#pragma once

#include <concepts>
#include <cstddef>
#include <span>

#include "ferro/pool/slice.hpp"

namespace ferro {

template <class B>
concept Buffer = requires(B& b, const B& cb, std::size_t n) {
  // The next n bytes at the end of the message being built; empty when no memory is left.
  { b.get_writable(n) } -> std::same_as<std::span<std::byte>>;
  // Closes the message and hands its bytes over; an empty Slice when nothing was written.
  { b.get_data_owned() } -> std::same_as<Slice>;
  // Bytes of the message being built.
  { cb.pending() } -> std::convertible_to<std::size_t>;
};

}  // namespace ferro
