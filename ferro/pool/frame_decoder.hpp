// FrameDecoder: the decoder shape that Buffer exists for. It asks its buffer for room for a
// frame header, reads the payload length from it, asks for room for the payload, and hands the
// whole frame (as an owned Slice) to the caller. Works over any Buffer; no heap of its own.
//
// Frame layout (little-endian, as in Stratum V2 framing): u16 extension type, u8 message type,
// u24 payload length, then the payload.
//
//   FrameDecoder dec(pool);
//   for (;;) {
//     read_exactly(socket, dec.writable());      // header, then payload
//     auto frame = dec.filled();                 // Result<std::optional<Frame>>
//     if (!frame) return frame.error();          // a corrupt header
//     if (*frame) handle(std::move(**frame));    // whole frame: Slice ownership moves on
//   }
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "ferro/core/result.hpp"
#include "ferro/pool/buffer.hpp"
#include "ferro/pool/slice.hpp"

namespace ferro {

struct Frame {
  static constexpr std::size_t header_size = 6;
  std::uint16_t extension_type = 0;
  std::uint8_t msg_type = 0;
  Slice bytes;  // header and payload, contiguous

  std::span<std::byte> payload() const noexcept { return bytes.span().subspan(header_size); }
};

// Writes a frame header into out (6 bytes).
inline void encode_frame_header(std::span<std::byte, Frame::header_size> out, std::uint16_t extension_type,
                                std::uint8_t msg_type, std::uint32_t payload_len) noexcept {
  out[0] = std::byte(extension_type & 0xFF);
  out[1] = std::byte(extension_type >> 8);
  out[2] = std::byte(msg_type);
  out[3] = std::byte(payload_len & 0xFF);
  out[4] = std::byte((payload_len >> 8) & 0xFF);
  out[5] = std::byte((payload_len >> 16) & 0xFF);
}

template <Buffer B>
class FrameDecoder {
 public:
  static constexpr std::uint32_t max_payload_limit = (1u << 24) - 1;

  explicit FrameDecoder(B& buffer, std::uint32_t max_payload = max_payload_limit) noexcept
      : buffer_(buffer), max_payload_(max_payload) {}

  // Bytes still missing before the decoder can make progress.
  std::size_t missing() const noexcept { return in_header_ ? Frame::header_size : payload_len_; }

  // Room for exactly the missing bytes; fill all of it, then call filled(). Empty when the
  // buffer has no memory left.
  std::span<std::byte> writable() noexcept {
    std::span<std::byte> w = buffer_.get_writable(missing());
    ready_ = w.size() == missing();
    if (ready_) last_ = w;
    return w;
  }

  // Returns a frame once its payload is complete, nothing while one is still being read,
  // `corrupt` for a header announcing more than max_payload (that message is discarded), or
  // `no_space` when the last writable() could not give the room (nothing was read; retry later).
  Result<std::optional<Frame>> filled() noexcept {
    if (!ready_) return make_error(Errc::no_space, "the buffer had no room for the missing bytes");
    ready_ = false;
    if (in_header_) {
      const std::span<std::byte> h = last_;
      extension_type_ =
          static_cast<std::uint16_t>(std::to_integer<unsigned>(h[0]) | std::to_integer<unsigned>(h[1]) << 8);
      msg_type_ = std::to_integer<std::uint8_t>(h[2]);
      payload_len_ = std::to_integer<std::uint32_t>(h[3]) | std::to_integer<std::uint32_t>(h[4]) << 8 |
                     std::to_integer<std::uint32_t>(h[5]) << 16;
      if (payload_len_ > max_payload_) {
        buffer_.get_data_owned();  // dropped at once: the slot goes straight back
        return make_error(Errc::corrupt, "frame payload longer than allowed");
      }
      if (payload_len_ != 0) {
        in_header_ = false;
        return std::optional<Frame>{};
      }
    }
    in_header_ = true;
    return std::optional<Frame>{Frame{extension_type_, msg_type_, buffer_.get_data_owned()}};
  }

 private:
  B& buffer_;
  std::uint32_t max_payload_;
  bool in_header_ = true;
  std::uint16_t extension_type_ = 0;
  std::uint8_t msg_type_ = 0;
  std::uint32_t payload_len_ = 0;
  std::span<std::byte> last_;
  bool ready_ = false;  // the last writable() gave all the missing bytes
};

}  // namespace ferro
