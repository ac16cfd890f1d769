// libFuzzer target: the transaction-log reader and the snapshot loader on arbitrary bytes,
// as recovery meets them after a crash or on a damaged disk.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "coord/data_tree.h"
#include "coord/storage.h"

using namespace faultline::coord;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  DataTree tree;
  ScanLog(bytes, 0, [&](const Txn& txn) { tree.Apply(txn); });
  // The same bytes behind a valid header, so the record parser is reached every time.
  std::string framed = "QLOG";
  framed += std::string("\0\0\0\1", 4);
  framed.append(8, '\0');
  framed += bytes;
  ScanLog(framed, 1, [&](const Txn& txn) { tree.Apply(txn); });
  DataTree other;
  other.Deserialize(bytes);
  return 0;
}
