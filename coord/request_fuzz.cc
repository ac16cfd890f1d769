// libFuzzer target: client request bodies, decoded and applied as transactions. Every
// length and count on the wire is hostile here; nothing may crash, hang or allocate
// beyond what the input itself holds.
#include <cstddef>
#include <cstdint>
#include <string>

#include "coord/data_tree.h"
#include "coord/jute.h"
#include "coord/records.h"
#include "coord/wire.h"

using namespace faultline::coord;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  static const int32_t kTypes[] = {op::kCreate,  op::kCreate2, op::kCreateContainer, op::kCreateTTL,
                                   op::kDelete,  op::kSetData, op::kSetACL,          op::kMulti,
                                   op::kCreateSession, op::kCloseSession, op::kError, op::kDeleteContainer};
  int32_t type = kTypes[data[0] % (sizeof kTypes / sizeof kTypes[0])];
  std::string body(reinterpret_cast<const char*>(data + 1), size - 1);

  // The decoders the server's prep runs on the same bytes.
  {
    JuteReader r(body);
    std::vector<MultiOp> ops;
    ReadMulti(r, &ops);
  }
  {
    JuteReader r(body);
    ReadCreate(r, true);
    ReadSetAcl(r);
    ReadStat(r);
    r.StringVector();
  }
  // Applying it: a tree with a little in it, the txn twice (the second sees the first).
  DataTree tree;
  std::string seed;
  JuteWriter w(&seed);
  WriteCreate(w, CreateRequest{"/a", "x", {Acl{perm::kAll, "world", "anyone"}}, 0, 0}, false);
  tree.Apply(Txn{1, 7, 1, op::kCreate, seed});
  tree.Apply(Txn{2, 7, 2, type, body});
  tree.Apply(Txn{3, 7, 3, type, body});
  DataTree copy;
  copy.Deserialize(tree.Serialize());
  return 0;
}
