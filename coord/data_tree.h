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
// Not thread-safe: one thread owns a DataTree.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "coord/records.h"
#include "coord/txn.h"

namespace faultline::coord {

struct Node {
  std::string data;
  // As ZooKeeper keeps it: stat.cversion counts the children ever created (it names the
  // next sequential child); clients see 2 * cversion - numChildren (VisibleStat).
  Stat stat;
  int32_t acl = 0;  // index into the tree's ACL table
  std::set<std::string> children;
};

// A change that fires watches: data watches on `path` for kNodeCreated/kNodeDataChanged,
// child watches for kNodeChildrenChanged, both for kNodeDeleted.
// The Stat a client is shown for a node.
Stat VisibleStat(const Node& node);

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

  ApplyResult Apply(const Txn& txn);

  const Node* Find(std::string_view path) const;
  const std::vector<Acl>& AclOf(const Node& node) const { return acls_[static_cast<size_t>(node.acl)]; }
  int64_t last_zxid() const { return last_zxid_; }
  // Sets last_zxid without a transaction (after loading a snapshot older than the log).
  void set_last_zxid(int64_t z) { last_zxid_ = z; }

  size_t node_count() const { return nodes_.size(); }
  // Sum of path and data lengths, ZooKeeper's zk_approximate_data_size.
  int64_t approximate_data_size() const;
  size_t ephemeral_count() const;
  const std::unordered_map<int64_t, std::set<std::string>>& ephemerals() const { return ephemerals_; }
  // Live sessions and their negotiated timeouts (ms), as committed.
  const std::map<int64_t, int32_t>& sessions() const { return sessions_; }
  // Container nodes that are empty and have had children: due for deletion.
  std::vector<std::string> EmptyContainers() const;

  std::string Serialize() const;
  bool Deserialize(std::string_view bytes);

  // Checks a path the way ZooKeeper's PathUtils.validatePath does.
  static bool ValidPath(std::string_view path);
  static std::string_view Parent(std::string_view path);

 private:
  struct Undo;  // how to roll back one op of a failed multi
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
  void AddNode(const std::string& path, Node node);

  std::unordered_map<std::string, Node> nodes_;
  std::vector<std::vector<Acl>> acls_;
  std::map<std::string, int32_t> acl_index_;  // encoded ACL list -> index in acls_
  std::unordered_map<int64_t, std::set<std::string>> ephemerals_;
  std::unordered_set<std::string> containers_;
  std::map<int64_t, int32_t> sessions_;
  int64_t last_zxid_ = 0;
};

}  // namespace faultline::coord
