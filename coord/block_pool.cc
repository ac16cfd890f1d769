#include "coord/block_pool.h"

#include <sys/mman.h>

#include <cstdlib>
#include <cstring>
#include <new>

namespace faultline::coord {

namespace {

constexpr size_t kSlabSize = 64 << 10;
constexpr size_t kMapSize = 16 * kSlabSize;
constexpr uint32_t kFirstBlock = 64;  // the slab header, rounded up to a cache line

}  // namespace

// At the start of every slab; slabs are kSlabSize-aligned, so a block finds its slab by
// rounding its address down.
struct BlockPool::Slab {
  Slab* prev = nullptr;  // in partial_ while it has a block to hand out
  Slab* next = nullptr;
  void* free = nullptr;  // freed blocks, each holding the address of the next
  uint32_t block = 0;
  uint32_t bump = kFirstBlock;  // the first byte never handed out
  uint32_t live = 0;
  bool listed = false;
};

BlockPool::~BlockPool() {
  for (const auto& [addr, len] : maps_) munmap(addr, len);
  for (void* p : large_) std::free(p);
}

void BlockPool::Link(Slab* s) {
  Slab*& head = partial_[s->block / 8];
  s->prev = nullptr;
  s->next = head;
  if (head) head->prev = s;
  head = s;
  s->listed = true;
}

void BlockPool::Unlink(Slab* s) {
  if (s->prev) {
    s->prev->next = s->next;
  } else {
    partial_[s->block / 8] = s->next;
  }
  if (s->next) s->next->prev = s->prev;
  s->prev = s->next = nullptr;
  s->listed = false;
}

BlockPool::Slab* BlockPool::NewSlab(uint32_t block) {
  void* at;
  if (warm_) {
    at = std::exchange(warm_, nullptr);
  } else if (!cold_.empty()) {
    at = cold_.back();
    cold_.pop_back();
  } else {
    if (carve_left_ == 0) {
      // One slab more than needed, so the slabs can start on a kSlabSize boundary.
      size_t len = kMapSize + kSlabSize;
      void* map = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (map == MAP_FAILED) throw std::bad_alloc();
      maps_.emplace_back(map, len);
#ifdef MADV_NOHUGEPAGE
      // Slabs fill a page at a time; a huge page would make all of it resident at once.
      madvise(map, len, MADV_NOHUGEPAGE);
#endif
      uintptr_t base = (reinterpret_cast<uintptr_t>(map) + kSlabSize - 1) & ~(uintptr_t{kSlabSize} - 1);
      carve_ = reinterpret_cast<char*>(base);
      carve_left_ = kMapSize;
    }
    at = carve_;
    carve_ += kSlabSize;
    carve_left_ -= kSlabSize;
  }
  static_assert(sizeof(Slab) <= kFirstBlock, "the slab header overlaps the first block");
  Slab* s = new (at) Slab;
  s->block = block;
  slabs_in_use_++;
  return s;
}

void BlockPool::Retire(Slab* s) {
  slabs_in_use_--;
  s->~Slab();
  if (warm_) {
    madvise(warm_, kSlabSize, MADV_DONTNEED);
    cold_.push_back(static_cast<Slab*>(warm_));
  }
  warm_ = s;
}

void* BlockPool::Alloc(size_t size) {
  if (size > kMaxBlock) {
    void* p = std::malloc(size);
    if (!p) throw std::bad_alloc();
    large_.insert(p);
    return p;
  }
  uint32_t block = static_cast<uint32_t>(size < 16 ? 16 : (size + 7) & ~size_t{7});
  Slab* s = partial_[block / 8];
  if (!s) {
    s = NewSlab(block);
    Link(s);
  }
  void* p;
  if (s->free) {
    p = s->free;
    std::memcpy(&s->free, p, sizeof s->free);
  } else {
    p = reinterpret_cast<char*>(s) + s->bump;
    s->bump += block;
  }
  s->live++;
  if (!s->free && s->bump + block > kSlabSize) Unlink(s);  // full
  return p;
}

void BlockPool::Free(void* p, size_t size) {
  if (size > kMaxBlock) {
    large_.erase(p);
    std::free(p);
    return;
  }
  auto* s = reinterpret_cast<Slab*>(reinterpret_cast<uintptr_t>(p) & ~(uintptr_t{kSlabSize} - 1));
  std::memcpy(p, &s->free, sizeof s->free);
  s->free = p;
  s->live--;
  if (s->live == 0) {
    if (s->listed) Unlink(s);
    Retire(s);
  } else if (!s->listed) {
    Link(s);
  }
}

}  // namespace faultline::coord
