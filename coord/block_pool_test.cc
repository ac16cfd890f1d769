#include "coord/block_pool.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <vector>

namespace faultline::coord {
namespace {

struct Held {
  unsigned char* p;
  size_t size;
  unsigned char fill;
};

TEST(BlockPool, BlocksKeepTheirBytesAndSlabsEmptyOut) {
  BlockPool pool;
  std::mt19937 rng(7);
  std::vector<Held> held;
  for (int round = 0; round < 4; ++round) {
    for (int i = 0; i < 20000; ++i) {
      size_t size = 1 + rng() % (i % 50 == 0 ? 5000 : 300);
      auto* p = static_cast<unsigned char*>(pool.Alloc(size));
      ASSERT_EQ(reinterpret_cast<uintptr_t>(p) % 8, 0u);
      unsigned char fill = static_cast<unsigned char>(rng());
      std::memset(p, fill, size);
      held.push_back({p, size, fill});
    }
    std::shuffle(held.begin(), held.end(), rng);
    // Free all but a few, checking every block still holds what was written.
    while (held.size() > 100) {
      const Held& h = held.back();
      for (size_t i = 0; i < h.size; ++i) ASSERT_EQ(h.p[i], h.fill);
      pool.Free(h.p, h.size);
      held.pop_back();
    }
    EXPECT_LE(pool.slabs_in_use(), 100u);
  }
  for (const Held& h : held) pool.Free(h.p, h.size);
  EXPECT_EQ(pool.slabs_in_use(), 0u);
}

TEST(BlockPool, SameSizeBlocksShareSlabs) {
  BlockPool pool;
  std::vector<void*> blocks;
  for (int i = 0; i < 1000; ++i) blocks.push_back(pool.Alloc(136));
  // 64 KiB slabs hold 481 blocks of 136 bytes.
  EXPECT_EQ(pool.slabs_in_use(), 3u);
  for (void* p : blocks) pool.Free(p, 136);
  EXPECT_EQ(pool.slabs_in_use(), 0u);
  // A destroyed pool takes what is still allocated with it (the sanitizers check).
  pool.Alloc(40);
  pool.Alloc(100000);
}

}  // namespace
}  // namespace faultline::coord
