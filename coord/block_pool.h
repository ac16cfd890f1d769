// Memory for many small blocks that live long and come in many sizes: the data tree's
// znodes and child tables, kept apart from the general heap.
//
// Why not malloc: during a burst of creates the server's request buffers come and go
// between the znodes, and malloc cuts each new znode out of such a hole, leaving a sliver
// too small for the next one that stays resident for good (after 120,000 creates: 1.6 MB
// of 48-128 byte holes, a tenth of the tree). malloc also spends 8 bytes of header and up
// to 8 of rounding on every block.
//
// Blocks up to kMaxBlock bytes come from 64 KiB slabs, each holding blocks of one size (a
// multiple of 8 bytes) with no header per block; slabs are carved from 1 MiB mappings. A
// slab whose blocks are all free gives its pages back to the kernel (the one emptied last
// is kept warm) and can serve any size next. Larger blocks are plain malloc.
//
// REQUIRES: Free() gets the size Alloc() was asked for. Destroying the pool frees every
// block still allocated. Not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <unordered_set>
#include <utility>
#include <vector>

namespace faultline::coord {

class BlockPool {
 public:
  static constexpr size_t kMaxBlock = 2048;

  BlockPool() = default;
  ~BlockPool();
  BlockPool(const BlockPool&) = delete;
  BlockPool& operator=(const BlockPool&) = delete;

  // At least 8-byte aligned. Throws std::bad_alloc.
  void* Alloc(size_t size);
  void Free(void* p, size_t size);

  // Slabs holding at least one block, for tests and figures.
  size_t slabs_in_use() const { return slabs_in_use_; }

 private:
  struct Slab;
  static constexpr size_t kClasses = kMaxBlock / 8 + 1;

  Slab* NewSlab(uint32_t block);
  void Retire(Slab* s);
  void Link(Slab* s);
  void Unlink(Slab* s);

  Slab* partial_[kClasses] = {};  // per block size / 8: slabs with a block to hand out
  Slab* warm_ = nullptr;          // the slab emptied last, pages still in place
  std::vector<Slab*> cold_;       // empty slabs whose pages went back to the kernel
  char* carve_ = nullptr;         // slabs not used yet at the end of the newest mapping
  size_t carve_left_ = 0;
  size_t slabs_in_use_ = 0;
  std::vector<std::pair<void*, size_t>> maps_;
  std::unordered_set<void*> large_;  // blocks over kMaxBlock, from malloc
};

}  // namespace faultline::coord
