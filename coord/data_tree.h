// The replicated state of quorumd: the znode tree, the ACLs it refers to and the table of
// live sessions, changed only by applying committed transactions (txn.h) in zxid order.
//
// Apply() is deterministic: the result it returns for the request (error code and reply
// body) and the watch events it reports depend only on the tree and the Txn, never on
// clocks, sockets or which replica runs it. That is what lets a standalone server apply
// straight after its own fsync and an ensemble apply what its quorum committed.
//
// Snapshots: Serialize() writes the whole state; Deserialize() replaces it. A snapshot
// taken while transactions are being applied is consistent as of last_zxid().
//
// Memory: the tree is what quorumd's footprint grows with (a deployment's znodes are
// mostly small), so a znode is one block holding its name, its data and its stat packed
// as varints, and a node with children holds them in one open-addressing table keyed by
// name; blocks and tables come from a pool of the tree's own (block_pool.h). No full path
// is stored: lookups walk the path one component at a time.
// With 100,000 small znodes under one parent that comes to about 36 bytes per znode beyond
// its name and data, the parent's table slot and the pool's rounding included.
//
// Not thread-safe: one thread owns a DataTree.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "coord/records.h"
#include "coord/txn.h"

namespace faultline::coord {

class BlockPool;
class Node;

namespace data_tree_internal {
// The children of one node: a table of pointers with linear probing, sized a power of two
// and kept at most about 80% full, the slots following this header in the same allocation.
// Each table places names by its own salt: filling one table in the slot order of another
// that hashed the same way (loading a snapshot, shrinking) would build long probe runs.
struct ChildTable {
  uint32_t count = 0;
  uint32_t mask = 0;  // slot count - 1
  uint64_t salt = 0;
  Node** slots() { return reinterpret_cast<Node**>(this + 1); }
  Node* const* slots() const { return reinterpret_cast<Node* const*>(this + 1); }
};
}  // namespace data_tree_internal

// One znode, read-only to everyone but its DataTree. A Node* from Find() stays valid until
// the tree next changes: a change may move the node to a new allocation.
//
// Layout of the allocation: flags:u8, [ChildTable*: when flags has kHasTable], varint name
// length, name, varint data length, data, then the stat as varints (czxid, mzxid - czxid,
// pzxid - czxid, ctime, mtime - ctime, version, cversion, aversion, ephemeralOwner, acl),
// differences and signed fields zigzagged. dataLength and numChildren are not stored.
class Node {
 public:
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  // The last component of the node's path ("" for the root).
  std::string_view name() const;
  std::string_view data() const;
  // As ZooKeeper keeps it: cversion counts the children ever created (it names the next
  // sequential child); clients see 2 * cversion - numChildren (VisibleStat).
  // dataLength and numChildren are filled in from the data and the children.
  Stat stat() const;
  int32_t acl() const;  // index into the tree's ACL table
  size_t child_count() const { return table() ? table()->count : 0; }
  // The children's names in byte order, which is how getChildren lists them.
  std::vector<std::string_view> children() const;
  // Calls f(const Node&) for every child, in no particular order.
  template <typename F>
  void ForEachChild(F&& f) const {
    const data_tree_internal::ChildTable* t = table();
    if (!t) return;
    for (size_t i = 0; i <= t->mask; ++i) {
      if (const Node* child = t->slots()[i]) f(*child);
    }
  }

 private:
  friend class DataTree;
  friend struct NodeBlock;
  Node() = default;
  const data_tree_internal::ChildTable* table() const;

  unsigned char flags_ = 0;
};

// The Stat a client is shown for a node.
Stat VisibleStat(const Node& node);

// A change that fires watches: data watches on `path` for kNodeCreated/kNodeDataChanged,
// child watches for kNodeChildrenChanged, both for kNodeDeleted.
struct WatchEvent {
  int32_t type = 0;
  std::string path;
};

struct ApplyResult {
  int32_t err = 0;        // wire.h err::; goes into the reply header
  std::string response;   // the reply body (empty when err != 0, except for multi)
  std::vector<WatchEvent> events;
  std::string created_path;  // for logs: the node a create made
};

class DataTree {
 public:
  DataTree();
  ~DataTree();
  DataTree(DataTree&& other) noexcept;
  DataTree& operator=(DataTree&& other) noexcept;
  DataTree(const DataTree&) = delete;
  DataTree& operator=(const DataTree&) = delete;

  ApplyResult Apply(const Txn& txn);

  const Node* Find(std::string_view path) const { return Locate(path).node; }
  const std::vector<Acl>& AclOf(const Node& node) const { return acls_[static_cast<size_t>(node.acl())]; }
  int64_t last_zxid() const { return last_zxid_; }
  // Sets last_zxid without a transaction (after loading a snapshot older than the log).
  void set_last_zxid(int64_t z) { last_zxid_ = z; }

  size_t node_count() const { return node_count_; }
  // Sum of path and data lengths, ZooKeeper's zk_approximate_data_size.
  int64_t approximate_data_size() const { return data_size_; }
  size_t ephemeral_count() const;
  const std::unordered_map<int64_t, std::set<std::string>>& ephemerals() const { return ephemerals_; }
  // Live sessions and their negotiated timeouts (ms), as committed.
  const std::map<int64_t, int32_t>& sessions() const { return sessions_; }
  // Container nodes that are empty and have had children: due for deletion.
  std::vector<std::string> EmptyContainers() const;

  // The snapshot's exact size in bytes, so a writer can reserve it up front.
  size_t SerializedSize() const;
  std::string Serialize() const;
  // Calls sink with consecutive pieces of what Serialize() returns, each about `chunk`
  // bytes, so a snapshot can go to a file without a copy of the whole tree in memory.
  // Stops early, returning false, when sink returns false.
  bool SerializeTo(size_t chunk, const std::function<bool(std::string_view)>& sink) const;
  bool Deserialize(std::string_view bytes);

  // Checks a path the way ZooKeeper's PathUtils.validatePath does.
  static bool ValidPath(std::string_view path);
  static std::string_view Parent(std::string_view path);

 private:
  struct Undo;  // how to roll back one op of a failed multi
  // A node and the node whose table holds it (nullptr for the root).
  struct Located {
    Node* node = nullptr;
    Node* holder = nullptr;
  };
  struct EmptyTag {};
  explicit DataTree(EmptyTag);

  Located Locate(std::string_view path) const;
  // Adds a node at `path` below its existing parent; nullptr when the parent is missing or
  // the path is taken.
  Node* Insert(std::string_view path, std::string_view data, const Stat& stat, int32_t acl);
  // Unlinks and frees the leaf `node`, held by `parent`, at `path`.
  void Remove(std::string_view path, Node* node, Node* parent);
  // Gives a node new data, stat and ACL, in place when the encoding keeps its size, else in a
  // new allocation that replaces it in its holder. Returns the node as it now is.
  Node* Rewrite(Located at, std::string_view data, const Stat& stat, int32_t acl, bool with_table);
  void Track(std::string_view path, int64_t owner);
  void Untrack(std::string_view path, int64_t owner);
  void FreeAll();

  int32_t InternAcl(const std::vector<Acl>& acl);
  int32_t DoCreate(const CreateRequest& req, int32_t type, const Txn& txn, std::string* reply,
                   std::vector<WatchEvent>* events, std::vector<Undo>* undo, std::string* created);
  int32_t DoDelete(const PathVersion& req, bool container_only, const Txn& txn,
                   std::vector<WatchEvent>* events, std::vector<Undo>* undo);
  int32_t DoSetData(const SetDataRequest& req, const Txn& txn, std::string* reply,
                    std::vector<WatchEvent>* events, std::vector<Undo>* undo);
  int32_t DoSetAcl(const SetAclRequest& req, std::string* reply);
  int32_t DoCheck(const PathVersion& req) const;
  ApplyResult DoMulti(const Txn& txn);
  void CloseSession(int64_t session, const Txn& txn, std::vector<WatchEvent>* events);
  void RollBack(std::vector<Undo>* undo);

  std::unique_ptr<BlockPool> pool_;  // where every node and child table lives
  Node* root_ = nullptr;
  size_t node_count_ = 0;
  int64_t data_size_ = 0;  // approximate_data_size()
  std::vector<std::vector<Acl>> acls_;
  std::map<std::string, int32_t> acl_index_;  // encoded ACL list -> index in acls_
  std::unordered_map<int64_t, std::set<std::string>> ephemerals_;
  std::unordered_set<std::string> containers_;
  std::map<int64_t, int32_t> sessions_;
  int64_t last_zxid_ = 0;
};

}  // namespace faultline::coord
