#include "coord/data_tree.h"

#include "coord/jute.h"
#include "coord/wire.h"

namespace faultline::coord {

namespace {

const std::vector<Acl> kOpenAcl = {Acl{perm::kAll, "world", "anyone"}};

std::string EncodeAcl(const std::vector<Acl>& acl) {
  std::string out;
  JuteWriter w(&out);
  WriteAcls(w, acl);
  return out;
}

std::string_view BaseName(std::string_view path) { return path.substr(path.rfind('/') + 1); }

bool IsSequential(int32_t flags) {
  return flags == create_mode::kPersistentSequential || flags == create_mode::kEphemeralSequential ||
         flags == create_mode::kPersistentSequentialWithTtl;
}

}  // namespace

Stat VisibleStat(const Node& node) {
  Stat s = node.stat;
  s.num_children = static_cast<int32_t>(node.children.size());
  s.cversion = node.stat.cversion * 2 - s.num_children;
  return s;
}

struct DataTree::Undo {
  enum Kind { kRemoveCreated, kRestoreDeleted, kRestoreData } kind;
  std::string path;
  Node saved;          // kRestoreDeleted: the node; kRestoreData: its old data and stat
  Stat parent_stat;    // kRemoveCreated, kRestoreDeleted
};

DataTree::DataTree() {
  acls_.push_back(kOpenAcl);
  acl_index_[EncodeAcl(kOpenAcl)] = 0;
  // The initial tree exactly as a fresh ZooKeeper 3.8 shows it to clients
  // (/zookeeper/config read-only, its aversion -1).
  AddNode("/", Node{});
  AddNode("/zookeeper", Node{});
  AddNode("/zookeeper/quota", Node{});
  Node config;
  config.stat.aversion = -1;
  config.acl = InternAcl({Acl{perm::kRead, "world", "anyone"}});
  AddNode("/zookeeper/config", std::move(config));
}

void DataTree::AddNode(const std::string& path, Node node) {
  if (path != "/") {
    std::string parent(Parent(path));
    auto it = nodes_.find(parent);
    if (it != nodes_.end()) {
      it->second.children.insert(std::string(BaseName(path)));
      it->second.stat.num_children = static_cast<int32_t>(it->second.children.size());
    }
  }
  int64_t owner = node.stat.ephemeral_owner;
  nodes_[path] = std::move(node);
  if (owner == kContainerOwner) {
    containers_.insert(path);
  } else if (owner != 0) {
    ephemerals_[owner].insert(path);
  }
}

bool DataTree::ValidPath(std::string_view path) {
  if (path.empty() || path[0] != '/') return false;
  if (path.size() == 1) return true;
  if (path.back() == '/') return false;
  size_t start = 1;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    std::string_view seg = path.substr(start, end - start);
    if (seg.empty() || seg == "." || seg == "..") return false;
    for (unsigned char c : seg) {
      if (c == 0 || (c > 0 && c < 0x20) || c == 0x7f) return false;
    }
    start = end + 1;
  }
  return true;
}

std::string_view DataTree::Parent(std::string_view path) {
  size_t slash = path.rfind('/');
  if (slash == 0 || slash == std::string_view::npos) return "/";
  return path.substr(0, slash);
}

const Node* DataTree::Find(std::string_view path) const {
  auto it = nodes_.find(std::string(path));
  return it == nodes_.end() ? nullptr : &it->second;
}

int64_t DataTree::approximate_data_size() const {
  int64_t total = 0;
  for (const auto& [path, node] : nodes_) total += static_cast<int64_t>(path.size() + node.data.size());
  return total;
}

size_t DataTree::ephemeral_count() const {
  size_t n = 0;
  for (const auto& [owner, paths] : ephemerals_) n += paths.size();
  return n;
}

std::vector<std::string> DataTree::EmptyContainers() const {
  std::vector<std::string> out;
  for (const auto& path : containers_) {
    auto it = nodes_.find(path);
    if (it != nodes_.end() && it->second.children.empty() && it->second.stat.cversion > 0) {
      out.push_back(path);
    }
  }
  return out;
}

int32_t DataTree::InternAcl(const std::vector<Acl>& acl) {
  // Nearly every node carries the same few ACLs: check the open one before encoding a key.
  if (acl == acls_[0]) return 0;
  std::string key = EncodeAcl(acl);
  auto it = acl_index_.find(key);
  if (it != acl_index_.end()) return it->second;
  int32_t idx = static_cast<int32_t>(acls_.size());
  acls_.push_back(acl);
  acl_index_.emplace(std::move(key), idx);
  return idx;
}

int32_t DataTree::DoCreate(const CreateRequest& req, int32_t type, const Txn& txn, std::string* reply,
                           std::vector<WatchEvent>* events, std::vector<Undo>* undo,
                           std::string* created) {
  if (type == op::kCreateTTL || req.flags == create_mode::kPersistentWithTtl ||
      req.flags == create_mode::kPersistentSequentialWithTtl) {
    // ZooKeeper refuses TTL nodes unless extended ephemeral types are switched on.
    return err::kUnimplemented;
  }
  if (req.flags < 0 || req.flags > create_mode::kContainer) return err::kBadArguments;
  bool container = type == op::kCreateContainer || req.flags == create_mode::kContainer;
  if (container && type != op::kCreateContainer) return err::kBadArguments;
  bool sequential = IsSequential(req.flags);
  if (!ValidPath(sequential ? req.path + "1" : req.path)) return err::kBadArguments;
  if (req.acl.empty()) return err::kInvalidACL;
  if (req.path.size() > 1 && req.path.back() == '/' && !sequential) return err::kBadArguments;

  std::string parent_path(Parent(sequential ? req.path + "1" : req.path));
  auto parent_it = nodes_.find(parent_path);
  if (parent_it == nodes_.end()) return err::kNoNode;
  Node& parent = parent_it->second;
  std::string path = req.path;
  if (sequential) {
    char suffix[16];
    snprintf(suffix, sizeof suffix, "%010d", parent.stat.cversion);
    path += suffix;
  }
  if (nodes_.count(path) != 0) return err::kNodeExists;
  if (parent.stat.ephemeral_owner != 0 && parent.stat.ephemeral_owner != kContainerOwner) {
    return err::kNoChildrenForEphemerals;
  }
  bool ephemeral = req.flags == create_mode::kEphemeral || req.flags == create_mode::kEphemeralSequential;
  if (ephemeral && txn.session_id == 0) return err::kBadArguments;

  if (undo) undo->push_back(Undo{Undo::kRemoveCreated, path, {}, parent.stat});
  parent.stat.cversion++;
  parent.stat.pzxid = txn.zxid;

  Node node;
  node.data = req.data;
  node.acl = InternAcl(req.acl);
  node.stat.czxid = node.stat.mzxid = node.stat.pzxid = txn.zxid;
  node.stat.ctime = node.stat.mtime = txn.time_ms;
  node.stat.ephemeral_owner = container ? kContainerOwner : (ephemeral ? txn.session_id : 0);
  node.stat.data_length = static_cast<int32_t>(req.data.size());
  Stat stat = node.stat;
  AddNode(path, std::move(node));

  JuteWriter w(reply);
  w.String(path);
  if (type == op::kCreate2 || type == op::kCreateContainer || type == op::kCreateTTL) WriteStat(w, stat);
  events->push_back(WatchEvent{event::kNodeCreated, path});
  events->push_back(WatchEvent{event::kNodeChildrenChanged, parent_path});
  if (created) *created = path;
  return err::kOk;
}

int32_t DataTree::DoDelete(const PathVersion& req, bool container_only, const Txn& txn,
                           std::vector<WatchEvent>* events, std::vector<Undo>* undo) {
  if (!ValidPath(req.path)) return err::kBadArguments;
  if (req.path == "/" || req.path == "/zookeeper" || req.path.rfind("/zookeeper/", 0) == 0) {
    // ZooKeeper's own subtree is not the client's to remove.
    return err::kBadArguments;
  }
  std::string parent_path(Parent(req.path));
  auto parent_it = nodes_.find(parent_path);
  if (parent_it == nodes_.end()) return err::kNoNode;
  auto it = nodes_.find(req.path);
  if (it == nodes_.end()) return err::kNoNode;
  Node& node = it->second;
  if (container_only && node.stat.ephemeral_owner != kContainerOwner) return err::kBadArguments;
  if (req.version != -1 && req.version != node.stat.version) return err::kBadVersion;
  if (!node.children.empty()) return err::kNotEmpty;

  Node& parent = parent_it->second;
  if (undo) undo->push_back(Undo{Undo::kRestoreDeleted, req.path, node, parent.stat});
  int64_t owner = node.stat.ephemeral_owner;
  if (owner == kContainerOwner) {
    containers_.erase(req.path);
  } else if (owner != 0) {
    auto eit = ephemerals_.find(owner);
    if (eit != ephemerals_.end()) {
      eit->second.erase(req.path);
      if (eit->second.empty()) ephemerals_.erase(eit);
    }
  }
  nodes_.erase(it);
  parent.children.erase(std::string(BaseName(req.path)));
  parent.stat.num_children = static_cast<int32_t>(parent.children.size());
  if (txn.zxid > parent.stat.pzxid) parent.stat.pzxid = txn.zxid;
  events->push_back(WatchEvent{event::kNodeDeleted, req.path});
  events->push_back(WatchEvent{event::kNodeChildrenChanged, parent_path});
  return err::kOk;
}

int32_t DataTree::DoSetData(const SetDataRequest& req, const Txn& txn, std::string* reply,
                            std::vector<WatchEvent>* events, std::vector<Undo>* undo) {
  if (!ValidPath(req.path)) return err::kBadArguments;
  auto it = nodes_.find(req.path);
  if (it == nodes_.end()) return err::kNoNode;
  Node& node = it->second;
  if (req.version != -1 && req.version != node.stat.version) return err::kBadVersion;
  if (undo) {
    Node saved;
    saved.data = node.data;
    saved.stat = node.stat;
    undo->push_back(Undo{Undo::kRestoreData, req.path, std::move(saved), {}});
  }
  node.data = req.data;
  node.stat.version++;
  node.stat.mzxid = txn.zxid;
  node.stat.mtime = txn.time_ms;
  node.stat.data_length = static_cast<int32_t>(req.data.size());
  JuteWriter w(reply);
  WriteStat(w, VisibleStat(node));
  events->push_back(WatchEvent{event::kNodeDataChanged, req.path});
  return err::kOk;
}

int32_t DataTree::DoSetAcl(const SetAclRequest& req, std::string* reply) {
  if (!ValidPath(req.path)) return err::kBadArguments;
  auto it = nodes_.find(req.path);
  if (it == nodes_.end()) return err::kNoNode;
  if (req.acl.empty()) return err::kInvalidACL;
  Node& node = it->second;
  if (req.version != -1 && req.version != node.stat.aversion) return err::kBadVersion;
  node.acl = InternAcl(req.acl);
  node.stat.aversion++;
  JuteWriter w(reply);
  WriteStat(w, VisibleStat(node));
  return err::kOk;
}

int32_t DataTree::DoCheck(const PathVersion& req) const {
  if (!ValidPath(req.path)) return err::kBadArguments;
  auto it = nodes_.find(req.path);
  if (it == nodes_.end()) return err::kNoNode;
  if (req.version != -1 && req.version != it->second.stat.version) return err::kBadVersion;
  return err::kOk;
}

void DataTree::RollBack(std::vector<Undo>* undo) {
  for (auto it = undo->rbegin(); it != undo->rend(); ++it) {
    switch (it->kind) {
      case Undo::kRemoveCreated: {
        auto nit = nodes_.find(it->path);
        if (nit != nodes_.end()) {
          int64_t owner = nit->second.stat.ephemeral_owner;
          if (owner == kContainerOwner) {
            containers_.erase(it->path);
          } else if (owner != 0) {
            ephemerals_[owner].erase(it->path);
            if (ephemerals_[owner].empty()) ephemerals_.erase(owner);
          }
          nodes_.erase(nit);
        }
        Node& parent = nodes_[std::string(Parent(it->path))];
        parent.children.erase(std::string(BaseName(it->path)));
        parent.stat = it->parent_stat;
        break;
      }
      case Undo::kRestoreDeleted: {
        std::string parent_path(Parent(it->path));
        AddNode(it->path, std::move(it->saved));
        nodes_[parent_path].stat = it->parent_stat;
        break;
      }
      case Undo::kRestoreData: {
        Node& node = nodes_[it->path];
        node.data = std::move(it->saved.data);
        node.stat = it->saved.stat;
        break;
      }
    }
  }
  undo->clear();
}

ApplyResult DataTree::DoMulti(const Txn& txn) {
  ApplyResult result;
  std::vector<MultiOp> ops;
  JuteReader r(txn.body);
  if (!ReadMulti(r, &ops)) {
    result.err = err::kMarshallingError;
    return result;
  }
  std::vector<Undo> undo;
  std::vector<std::string> replies(ops.size());
  std::vector<WatchEvent> events;
  size_t failed_at = ops.size();
  int32_t failed_err = err::kOk;
  for (size_t i = 0; i < ops.size(); ++i) {
    const MultiOp& op = ops[i];
    int32_t rc = err::kOk;
    switch (op.type) {
      case op::kCreate:
      case op::kCreate2:
      case op::kCreateContainer:
      case op::kCreateTTL:
        rc = DoCreate(op.create, op.type, txn, &replies[i], &events, &undo, nullptr);
        break;
      case op::kDelete:
        rc = DoDelete(op.path_version, false, txn, &events, &undo);
        break;
      case op::kSetData:
        rc = DoSetData(op.set_data, txn, &replies[i], &events, &undo);
        break;
      case op::kCheck:
        rc = DoCheck(op.path_version);
        break;
      case op::kError:
        rc = op.err != err::kOk ? op.err : err::kRuntimeInconsistency;
        break;
      default:
        rc = err::kUnimplemented;
    }
    if (rc != err::kOk) {
      failed_at = i;
      failed_err = rc;
      break;
    }
  }
  JuteWriter w(&result.response);
  if (failed_at < ops.size()) {
    RollBack(&undo);
    // As ZooKeeper answers a failed multi: every op gets an ErrorResult; those before the
    // failure say Ok, the failing one its code, the rest RuntimeInconsistency.
    for (size_t i = 0; i < ops.size(); ++i) {
      int32_t code = i < failed_at ? err::kOk : (i == failed_at ? failed_err : err::kRuntimeInconsistency);
      w.Int(op::kError);
      w.Bool(false);
      w.Int(code);
      w.Int(code);
    }
  } else {
    for (size_t i = 0; i < ops.size(); ++i) {
      w.Int(ops[i].type == op::kCreateContainer || ops[i].type == op::kCreateTTL ? op::kCreate2
                                                                                : ops[i].type);
      w.Bool(false);
      w.Int(err::kOk);
      w.Raw(replies[i]);
    }
    result.events = std::move(events);
  }
  w.Int(-1);
  w.Bool(true);
  w.Int(-1);
  return result;
}

void DataTree::CloseSession(int64_t session, const Txn& txn, std::vector<WatchEvent>* events) {
  sessions_.erase(session);
  auto it = ephemerals_.find(session);
  if (it == ephemerals_.end()) return;
  // Deepest paths first is not needed (ephemerals have no children), but a stable order
  // keeps every replica's events identical.
  std::vector<std::string> paths(it->second.begin(), it->second.end());
  for (const auto& path : paths) {
    DoDelete(PathVersion{path, -1}, false, txn, events, nullptr);
  }
}

ApplyResult DataTree::Apply(const Txn& txn) {
  ApplyResult result;
  if (txn.zxid > last_zxid_) last_zxid_ = txn.zxid;
  JuteReader r(txn.body);
  switch (txn.type) {
    case op::kCreate:
    case op::kCreate2:
    case op::kCreateContainer:
    case op::kCreateTTL: {
      CreateRequest req = ReadCreate(r, txn.type == op::kCreateTTL);
      if (!r.ok()) {
        result.err = err::kMarshallingError;
        break;
      }
      result.err = DoCreate(req, txn.type, txn, &result.response, &result.events, nullptr,
                            &result.created_path);
      break;
    }
    case op::kDelete:
    case op::kDeleteContainer: {
      PathVersion req = ReadPathVersion(r);
      if (!r.ok()) {
        result.err = err::kMarshallingError;
        break;
      }
      result.err = DoDelete(req, txn.type == op::kDeleteContainer, txn, &result.events, nullptr);
      break;
    }
    case op::kSetData: {
      SetDataRequest req = ReadSetData(r);
      if (!r.ok()) {
        result.err = err::kMarshallingError;
        break;
      }
      result.err = DoSetData(req, txn, &result.response, &result.events, nullptr);
      break;
    }
    case op::kSetACL: {
      SetAclRequest req = ReadSetAcl(r);
      if (!r.ok()) {
        result.err = err::kMarshallingError;
        break;
      }
      result.err = DoSetAcl(req, &result.response);
      break;
    }
    case op::kMulti:
      return DoMulti(txn);
    case op::kCreateSession: {
      int32_t timeout = r.Int();
      sessions_[txn.session_id] = r.ok() ? timeout : 0;
      break;
    }
    case op::kCloseSession:
      CloseSession(txn.session_id, txn, &result.events);
      break;
    case op::kError:
      result.err = r.Int();
      if (!r.ok()) result.err = err::kMarshallingError;
      break;
    default:
      result.err = err::kUnimplemented;
  }
  if (result.err != err::kOk) {
    result.response.clear();
    result.events.clear();
  }
  return result;
}

// Snapshot layout (jute): magic "QSNP", version:int, last_zxid:long,
// sessions: count, (id:long timeout:int)*; acls: count, acl-list*;
// nodes: count, (path data acl:int stat)* in no particular order (children are relinked
// on load, so writing needs no tree walk).
std::string DataTree::Serialize() const {
  size_t estimate = 64;
  for (const auto& [path, node] : nodes_) estimate += path.size() + node.data.size() + 88;
  std::string out;
  out.reserve(estimate);
  JuteWriter w(&out);
  w.Raw("QSNP");
  w.Int(2);
  w.Long(last_zxid_);
  w.Int(static_cast<int32_t>(sessions_.size()));
  for (const auto& [id, timeout] : sessions_) {
    w.Long(id);
    w.Int(timeout);
  }
  w.Int(static_cast<int32_t>(acls_.size()));
  for (const auto& acl : acls_) WriteAcls(w, acl);
  w.Int(static_cast<int32_t>(nodes_.size()));
  for (const auto& [path, node] : nodes_) {
    w.String(path);
    w.Buffer(node.data);
    w.Int(node.acl);
    WriteStat(w, node.stat);
  }
  return out;
}

bool DataTree::Deserialize(std::string_view bytes) {
  if (bytes.substr(0, 4) != "QSNP") return false;
  JuteReader r(bytes.substr(4));
  if (r.Int() != 2) return false;
  DataTree fresh;
  fresh.nodes_.clear();
  fresh.acls_.clear();
  fresh.acl_index_.clear();
  fresh.last_zxid_ = r.Long();
  int32_t nsessions = r.Count(12);
  for (int32_t i = 0; i < nsessions && r.ok(); ++i) {
    int64_t id = r.Long();
    fresh.sessions_[id] = r.Int();
  }
  int32_t nacls = r.Count(4);
  for (int32_t i = 0; i < nacls && r.ok(); ++i) {
    std::vector<Acl> acl = ReadAcls(r);
    fresh.acl_index_[EncodeAcl(acl)] = static_cast<int32_t>(fresh.acls_.size());
    fresh.acls_.push_back(std::move(acl));
  }
  int32_t nnodes = r.Count(4 + 4 + 4 + 68);
  fresh.nodes_.reserve(static_cast<size_t>(nnodes));
  for (int32_t i = 0; i < nnodes && r.ok(); ++i) {
    std::string path = r.String();
    Node node;
    node.data = r.Buffer();
    node.acl = r.Int();
    node.stat = ReadStat(r);
    if (!r.ok()) break;
    if (node.acl < 0 || static_cast<size_t>(node.acl) >= fresh.acls_.size() || !ValidPath(path)) return false;
    node.stat.num_children = 0;  // recounted as the children are linked
    if (!fresh.nodes_.emplace(std::move(path), std::move(node)).second) return false;
  }
  if (!r.ok() || r.remaining() != 0 || fresh.nodes_.count("/") == 0) return false;
  // Link every node to its parent; a node whose parent is missing means a damaged snapshot.
  for (auto& [path, node] : fresh.nodes_) {
    int64_t owner = node.stat.ephemeral_owner;
    if (owner == kContainerOwner) {
      fresh.containers_.insert(path);
    } else if (owner != 0) {
      fresh.ephemerals_[owner].insert(path);
    }
    if (path == "/") continue;
    auto parent = fresh.nodes_.find(std::string(Parent(path)));
    if (parent == fresh.nodes_.end()) return false;
    parent->second.children.insert(std::string(BaseName(path)));
    parent->second.stat.num_children++;
  }
  *this = std::move(fresh);
  return true;
}

}  // namespace faultline::coord
