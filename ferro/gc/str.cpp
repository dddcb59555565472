#include "ferro/gc/str.hpp"

#include <cstring>

namespace ferro::gc {

Bytes* Bytes::make(Heap& heap, std::span<const std::byte> bytes) noexcept {
  Bytes* b = heap.make<Bytes>(heap);
  if (b == nullptr || !b->append(bytes)) return nullptr;  // a half-made one is garbage
  return b;
}

Str* Str::make(Heap& heap, std::string_view text) noexcept {
  Str* s = heap.make<Str>(heap);
  if (s == nullptr || !s->append({reinterpret_cast<const std::byte*>(text.data()), text.size()})) return nullptr;
  return s;
}

Str* Str::rom(Heap& heap, std::string_view literal) noexcept {
  return heap.make<Str>(Vec::rom({reinterpret_cast<const std::byte*>(literal.data()), literal.size()}));
}

// The source must not lie in this heap's vector space: growing may move it.
Status Bytes::append(std::span<const std::byte> bytes) noexcept {
  if (data_.is_rom()) return make_error(Errc::unsupported, "Bytes: a ROM string cannot change");
  if (bytes.empty()) return ok();
  const std::size_t need = len_ + bytes.size();
  if (need > data_.capacity()) {
    const std::size_t doubled = data_.capacity() * 2;
    if (doubled < need || !data_.resize(doubled)) FERRO_TRY(data_.resize(need));
  }
  std::memcpy(data_.data() + len_, bytes.data(), bytes.size());
  len_ = need;
  return ok();
}

std::size_t Bytes::hash() const noexcept {
  std::uint32_t h = 2166136261u;  // FNV-1a: tiny, and good enough for short keys
  for (std::byte b : view()) h = (h ^ static_cast<std::uint32_t>(b)) * 16777619u;
  return h;
}

bool Bytes::equals(const Object& other) const noexcept {
  if (other.kind() != kind()) return false;
  const auto a = view();
  const auto b = static_cast<const Bytes&>(other).view();
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size()) == 0);
}

}  // namespace ferro::gc
