#include "coord/data_tree.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <new>
#include <utility>

#include "coord/block_pool.h"
#include "coord/jute.h"
#include "coord/wire.h"

namespace faultline::coord {

using data_tree_internal::ChildTable;

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

constexpr unsigned char kHasTable = 1;
// The stat is ten varints, none longer than ten bytes.
constexpr int kStatFields = 10;
constexpr size_t kMaxStatBytes = 10 * kStatFields;
// A stat record in a snapshot: 6 longs and 5 ints.
constexpr size_t kStatBytes = 68;

size_t VarintSize(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

unsigned char* PutVarint(unsigned char* p, uint64_t v) {
  while (v >= 0x80) {
    *p++ = static_cast<unsigned char>(v | 0x80);
    v >>= 7;
  }
  *p++ = static_cast<unsigned char>(v);
  return p;
}

// Only ever reads what PutVarint wrote, so it needs no bounds.
uint64_t GetVarint(const unsigned char** p) {
  uint64_t v = 0;
  int shift = 0;
  while (**p & 0x80) {
    v |= static_cast<uint64_t>(*(*p)++ & 0x7f) << shift;
    shift += 7;
  }
  v |= static_cast<uint64_t>(*(*p)++) << shift;
  return v;
}

uint64_t Zigzag(int64_t v) { return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63); }
int64_t Unzigzag(uint64_t u) { return static_cast<int64_t>(u >> 1) ^ -static_cast<int64_t>(u & 1); }
// Differences wrap instead of overflowing, so any pair of values round-trips.
int64_t Minus(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) - static_cast<uint64_t>(b));
}
int64_t Plus(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b));
}

// Most of a stat is small or a repeat: a node never set has mzxid == czxid and mtime ==
// ctime, a leaf pzxid == czxid, versions are 0 and the owner and ACL index mostly 0, so
// each field goes as a varint of its difference from the field it usually equals.
size_t EncodeStat(const Stat& s, int32_t acl, unsigned char* out) {
  unsigned char* p = out;
  p = PutVarint(p, static_cast<uint64_t>(s.czxid));
  p = PutVarint(p, Zigzag(Minus(s.mzxid, s.czxid)));
  p = PutVarint(p, Zigzag(Minus(s.pzxid, s.czxid)));
  p = PutVarint(p, static_cast<uint64_t>(s.ctime));
  p = PutVarint(p, Zigzag(Minus(s.mtime, s.ctime)));
  p = PutVarint(p, Zigzag(s.version));
  p = PutVarint(p, Zigzag(s.cversion));
  p = PutVarint(p, Zigzag(s.aversion));
  p = PutVarint(p, static_cast<uint64_t>(s.ephemeral_owner));
  p = PutVarint(p, static_cast<uint32_t>(acl));
  return static_cast<size_t>(p - out);
}

// Fills everything but data_length and num_children; returns the end of the encoding.
const unsigned char* DecodeStat(const unsigned char* p, Stat* s, int32_t* acl) {
  s->czxid = static_cast<int64_t>(GetVarint(&p));
  s->mzxid = Plus(s->czxid, Unzigzag(GetVarint(&p)));
  s->pzxid = Plus(s->czxid, Unzigzag(GetVarint(&p)));
  s->ctime = static_cast<int64_t>(GetVarint(&p));
  s->mtime = Plus(s->ctime, Unzigzag(GetVarint(&p)));
  s->version = static_cast<int32_t>(Unzigzag(GetVarint(&p)));
  s->cversion = static_cast<int32_t>(Unzigzag(GetVarint(&p)));
  s->aversion = static_cast<int32_t>(Unzigzag(GetVarint(&p)));
  s->ephemeral_owner = static_cast<int64_t>(GetVarint(&p));
  *acl = static_cast<int32_t>(GetVarint(&p));
  return p;
}

size_t NameHash(std::string_view name) { return std::hash<std::string_view>{}(name); }

// Where a name with this hash belongs in t: the hash mixed with the table's salt, so that
// every bit of both decides the slot.
size_t Home(const ChildTable* t, size_t hash) {
  uint64_t x = (static_cast<uint64_t>(hash) ^ t->salt) * 0x9e3779b97f4a7c15u;
  return static_cast<size_t>(x ^ (x >> 32)) & t->mask;
}

// Linear probing stays short up to about 80% full; small tables may fill all but one slot.
size_t MaxCount(size_t slots) { return slots - std::max<size_t>(1, slots / 5); }

size_t SlotsFor(size_t count) {
  size_t slots = 2;
  while (MaxCount(slots) < count) slots *= 2;
  return slots;
}

}  // namespace

// The byte layout of a Node (data_tree.h), in one place.
struct NodeBlock {
  struct Parts {
    std::string_view name;
    std::string_view data;
    const unsigned char* stat;
  };

  static unsigned char* Bytes(Node* n) { return reinterpret_cast<unsigned char*>(n); }
  static const unsigned char* Bytes(const Node* n) { return reinterpret_cast<const unsigned char*>(n); }
  static bool HasTable(const Node* n) { return (n->flags_ & kHasTable) != 0; }

  static ChildTable* Table(const Node* n) {
    if (!HasTable(n)) return nullptr;
    ChildTable* t;
    std::memcpy(&t, Bytes(n) + 1, sizeof t);
    return t;
  }
  // REQUIRES: HasTable(n).
  static void SetTable(Node* n, ChildTable* t) { std::memcpy(Bytes(n) + 1, &t, sizeof t); }

  static const unsigned char* NameField(const Node* n) {
    return Bytes(n) + 1 + (HasTable(n) ? sizeof(ChildTable*) : 0);
  }

  static std::string_view Name(const Node* n) {
    const unsigned char* p = NameField(n);
    size_t len = GetVarint(&p);
    return {reinterpret_cast<const char*>(p), len};
  }

  static Parts Split(const Node* n) {
    Parts parts;
    const unsigned char* p = NameField(n);
    size_t len = GetVarint(&p);
    parts.name = {reinterpret_cast<const char*>(p), len};
    p += len;
    len = GetVarint(&p);
    parts.data = {reinterpret_cast<const char*>(p), len};
    parts.stat = p + len;
    return parts;
  }

  static void StoredStat(const Node* n, Stat* s, int32_t* acl) { DecodeStat(Split(n).stat, s, acl); }

  // The whole block, stat included.
  static size_t Size(const Node* n) {
    const unsigned char* p = Split(n).stat;
    for (int i = 0; i < kStatFields; ++i) {
      while (*p++ & 0x80) {
      }
    }
    return static_cast<size_t>(p - Bytes(n));
  }

  static Node* Make(BlockPool& pool, std::string_view name, std::string_view data, const unsigned char* stat,
                    size_t stat_len, bool with_table, ChildTable* table) {
    size_t size = 1 + (with_table ? sizeof table : 0) + VarintSize(name.size()) + name.size() +
                  VarintSize(data.size()) + data.size() + stat_len;
    Node* n = new (pool.Alloc(size)) Node;
    n->flags_ = with_table ? kHasTable : 0;
    unsigned char* p = Bytes(n) + 1;
    if (with_table) {
      std::memcpy(p, &table, sizeof table);
      p += sizeof table;
    }
    p = PutVarint(p, name.size());
    if (!name.empty()) std::memcpy(p, name.data(), name.size());
    p += name.size();
    p = PutVarint(p, data.size());
    if (!data.empty()) std::memcpy(p, data.data(), data.size());
    p += data.size();
    std::memcpy(p, stat, stat_len);
    return n;
  }

  static void Free(BlockPool& pool, Node* n) {
    size_t size = Size(n);
    n->~Node();
    pool.Free(n, size);
  }
};

namespace {

size_t TableBytes(size_t slots) { return sizeof(ChildTable) + slots * sizeof(Node*); }

ChildTable* NewTable(BlockPool& pool, size_t slots) {
  void* mem = pool.Alloc(TableBytes(slots));
  std::memset(mem, 0, TableBytes(slots));
  auto* t = new (mem) ChildTable;
  t->mask = static_cast<uint32_t>(slots - 1);
  // Any value that differs from one live table to the next will do; the address does.
  t->salt = reinterpret_cast<uintptr_t>(t);
  return t;
}

void FreeTable(BlockPool& pool, ChildTable* t) {
  size_t bytes = TableBytes(t->mask + size_t{1});
  t->~ChildTable();
  pool.Free(t, bytes);
}

// The slot holding the child called `name`, or the empty slot where it would go.
size_t Probe(const ChildTable* t, std::string_view name) {
  size_t i = Home(t, NameHash(name));
  while (const Node* c = t->slots()[i]) {
    if (NodeBlock::Name(c) == name) return i;
    i = (i + 1) & t->mask;
  }
  return i;
}

// Moves every child of t into a new table with `slots` slots and frees t.
ChildTable* Resized(BlockPool& pool, ChildTable* t, size_t slots) {
  ChildTable* fresh = NewTable(pool, slots);
  if (!t) return fresh;
  for (size_t i = 0; i <= t->mask; ++i) {
    Node* c = t->slots()[i];
    if (!c) continue;
    size_t j = Home(fresh, NameHash(NodeBlock::Name(c)));
    while (fresh->slots()[j]) j = (j + 1) & fresh->mask;
    fresh->slots()[j] = c;
  }
  fresh->count = t->count;
  FreeTable(pool, t);
  return fresh;
}

Node* FindChild(const Node* parent, std::string_view name) {
  const ChildTable* t = NodeBlock::Table(parent);
  return t ? t->slots()[Probe(t, name)] : nullptr;
}

// REQUIRES: parent has a table slot (kHasTable) and no child of that name.
void AddChild(BlockPool& pool, Node* parent, Node* child) {
  ChildTable* t = NodeBlock::Table(parent);
  size_t slots = t ? t->mask + size_t{1} : 0;
  if (!t || t->count + size_t{1} > MaxCount(slots)) {
    t = Resized(pool, t, t ? slots * 2 : 2);
    NodeBlock::SetTable(parent, t);
  }
  t->slots()[Probe(t, NodeBlock::Name(child))] = child;
  t->count++;
}

// REQUIRES: child is in parent's table.
void DropChild(BlockPool& pool, Node* parent, const Node* child) {
  ChildTable* t = NodeBlock::Table(parent);
  Node** s = t->slots();
  size_t mask = t->mask;
  size_t hole = Probe(t, NodeBlock::Name(child));
  s[hole] = nullptr;
  // Backward-shift deletion: pull later entries of the run into the hole unless their home
  // slot lies (cyclically) after it, so lookups never need tombstones.
  for (size_t j = (hole + 1) & mask; s[j]; j = (j + 1) & mask) {
    size_t home = Home(t, NameHash(NodeBlock::Name(s[j])));
    bool stays = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
    if (!stays) {
      s[hole] = s[j];
      s[j] = nullptr;
      hole = j;
    }
  }
  t->count--;
  if (t->count == 0) {
    FreeTable(pool, t);
    NodeBlock::SetTable(parent, nullptr);
  } else if (mask + 1 > 8 && t->count < (mask + 1) / 8) {
    NodeBlock::SetTable(parent, Resized(pool, t, SlotsFor(2 * size_t{t->count})));
  }
}

// REQUIRES: old is in parent's table; fresh has the same name.
void ReplaceChild(Node* parent, const Node* old, Node* fresh) {
  ChildTable* t = NodeBlock::Table(parent);
  t->slots()[Probe(t, NodeBlock::Name(old))] = fresh;
}

}  // namespace

const ChildTable* Node::table() const { return NodeBlock::Table(this); }

std::string_view Node::name() const { return NodeBlock::Name(this); }

std::string_view Node::data() const { return NodeBlock::Split(this).data; }

Stat Node::stat() const {
  NodeBlock::Parts parts = NodeBlock::Split(this);
  Stat s;
  int32_t acl;
  DecodeStat(parts.stat, &s, &acl);
  s.data_length = static_cast<int32_t>(parts.data.size());
  s.num_children = static_cast<int32_t>(child_count());
  return s;
}

int32_t Node::acl() const {
  Stat s;
  int32_t acl;
  NodeBlock::StoredStat(this, &s, &acl);
  return acl;
}

std::vector<std::string_view> Node::children() const {
  std::vector<std::string_view> names;
  names.reserve(child_count());
  ForEachChild([&](const Node& child) { names.push_back(child.name()); });
  std::sort(names.begin(), names.end());
  return names;
}

Stat VisibleStat(const Node& node) {
  Stat s = node.stat();
  s.cversion = s.cversion * 2 - s.num_children;
  return s;
}

struct DataTree::Undo {
  enum Kind { kRemoveCreated, kRestoreDeleted, kRestoreData } kind;
  std::string path;
  std::string data;   // kRestoreDeleted, kRestoreData: the node's data before
  Stat stat;          // kRestoreDeleted, kRestoreData: its stat before
  int32_t acl = 0;    // kRestoreDeleted
  Stat parent_stat;   // kRemoveCreated, kRestoreDeleted
};

DataTree::DataTree() : pool_(std::make_unique<BlockPool>()) {
  acls_.push_back(kOpenAcl);
  acl_index_[EncodeAcl(kOpenAcl)] = 0;
  // The initial tree exactly as a fresh ZooKeeper 3.8 shows it to clients
  // (/zookeeper/config read-only, its aversion -1).
  Insert("/", "", Stat{}, 0);
  Insert("/zookeeper", "", Stat{}, 0);
  Insert("/zookeeper/quota", "", Stat{}, 0);
  Stat config;
  config.aversion = -1;
  Insert("/zookeeper/config", "", config, InternAcl({Acl{perm::kRead, "world", "anyone"}}));
}

DataTree::DataTree(EmptyTag) : pool_(std::make_unique<BlockPool>()) {}

DataTree::~DataTree() { FreeAll(); }

DataTree::DataTree(DataTree&& other) noexcept
    : pool_(std::move(other.pool_)),
      root_(std::exchange(other.root_, nullptr)),
      node_count_(std::exchange(other.node_count_, 0)),
      data_size_(std::exchange(other.data_size_, 0)),
      acls_(std::move(other.acls_)),
      acl_index_(std::move(other.acl_index_)),
      ephemerals_(std::move(other.ephemerals_)),
      containers_(std::move(other.containers_)),
      sessions_(std::move(other.sessions_)),
      last_zxid_(other.last_zxid_) {}

DataTree& DataTree::operator=(DataTree&& other) noexcept {
  if (this == &other) return *this;
  FreeAll();
  pool_ = std::move(other.pool_);
  root_ = std::exchange(other.root_, nullptr);
  node_count_ = std::exchange(other.node_count_, 0);
  data_size_ = std::exchange(other.data_size_, 0);
  acls_ = std::move(other.acls_);
  acl_index_ = std::move(other.acl_index_);
  ephemerals_ = std::move(other.ephemerals_);
  containers_ = std::move(other.containers_);
  sessions_ = std::move(other.sessions_);
  last_zxid_ = other.last_zxid_;
  return *this;
}

void DataTree::FreeAll() {
  pool_.reset();  // every node and table with it
  root_ = nullptr;
  node_count_ = 0;
  data_size_ = 0;
}

DataTree::Located DataTree::Locate(std::string_view path) const {
  if (!root_ || path.empty() || path[0] != '/') return {};
  Located at{root_, nullptr};
  if (path.size() == 1) return at;
  size_t start = 1;
  while (true) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    // An empty component ("//", a trailing '/') names nothing: no child is called "".
    Node* child = FindChild(at.node, path.substr(start, end - start));
    if (!child) return {};
    at = Located{child, at.node};
    if (end == path.size()) return at;
    start = end + 1;
  }
}

void DataTree::Track(std::string_view path, int64_t owner) {
  if (owner == kContainerOwner) {
    containers_.emplace(path);
  } else if (owner != 0) {
    ephemerals_[owner].emplace(path);
  }
}

void DataTree::Untrack(std::string_view path, int64_t owner) {
  if (owner == kContainerOwner) {
    containers_.erase(std::string(path));
  } else if (owner != 0) {
    auto it = ephemerals_.find(owner);
    if (it != ephemerals_.end()) {
      it->second.erase(std::string(path));
      if (it->second.empty()) ephemerals_.erase(it);
    }
  }
}

Node* DataTree::Insert(std::string_view path, std::string_view data, const Stat& stat, int32_t acl) {
  unsigned char packed[kMaxStatBytes];
  size_t len = EncodeStat(stat, acl, packed);
  Node* node;
  if (path == "/") {
    if (root_) return nullptr;
    node = root_ = NodeBlock::Make(*pool_, "", data, packed, len, true, nullptr);
  } else {
    Located parent = Locate(Parent(path));
    if (!parent.node) return nullptr;
    std::string_view name = BaseName(path);
    if (FindChild(parent.node, name)) return nullptr;
    Node* p = parent.node;
    if (!NodeBlock::HasTable(p)) {
      Stat ps;
      int32_t pacl;
      NodeBlock::StoredStat(p, &ps, &pacl);
      p = Rewrite(parent, p->data(), ps, pacl, true);
    }
    node = NodeBlock::Make(*pool_, name, data, packed, len, false, nullptr);
    AddChild(*pool_, p, node);
  }
  node_count_++;
  data_size_ += static_cast<int64_t>(path.size() + data.size());
  Track(path, stat.ephemeral_owner);
  return node;
}

void DataTree::Remove(std::string_view path, Node* node, Node* parent) {
  Stat s;
  int32_t acl;
  NodeBlock::StoredStat(node, &s, &acl);
  Untrack(path, s.ephemeral_owner);
  data_size_ -= static_cast<int64_t>(path.size() + node->data().size());
  node_count_--;
  DropChild(*pool_, parent, node);
  if (ChildTable* t = NodeBlock::Table(node)) FreeTable(*pool_, t);
  NodeBlock::Free(*pool_, node);
}

Node* DataTree::Rewrite(Located at, std::string_view data, const Stat& stat, int32_t acl, bool with_table) {
  unsigned char packed[kMaxStatBytes];
  size_t len = EncodeStat(stat, acl, packed);
  NodeBlock::Parts parts = NodeBlock::Split(at.node);
  bool has_table = NodeBlock::HasTable(at.node);
  with_table = with_table || has_table;
  if (with_table == has_table && data.size() == parts.data.size()) {
    Stat old;
    int32_t old_acl;
    const unsigned char* end = DecodeStat(parts.stat, &old, &old_acl);
    if (static_cast<size_t>(end - parts.stat) == len) {
      // Same size: the bytes change where they are, and nothing that points here moves.
      unsigned char* base = NodeBlock::Bytes(at.node);
      auto* data_at = base + (reinterpret_cast<const unsigned char*>(parts.data.data()) - base);
      if (!data.empty() && data.data() != parts.data.data()) std::memmove(data_at, data.data(), data.size());
      std::memcpy(base + (parts.stat - base), packed, len);
      return at.node;
    }
  }
  Node* fresh = NodeBlock::Make(*pool_, parts.name, data, packed, len, with_table, NodeBlock::Table(at.node));
  if (at.holder) {
    ReplaceChild(at.holder, at.node, fresh);
  } else {
    root_ = fresh;
  }
  NodeBlock::Free(*pool_, at.node);
  return fresh;
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

size_t DataTree::ephemeral_count() const {
  size_t n = 0;
  for (const auto& [owner, paths] : ephemerals_) n += paths.size();
  return n;
}

std::vector<std::string> DataTree::EmptyContainers() const {
  std::vector<std::string> out;
  for (const auto& path : containers_) {
    const Node* node = Find(path);
    if (node && node->child_count() == 0 && node->stat().cversion > 0) out.push_back(path);
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
  Located parent = Locate(parent_path);
  if (!parent.node) return err::kNoNode;
  Stat parent_stat;
  int32_t parent_acl;
  NodeBlock::StoredStat(parent.node, &parent_stat, &parent_acl);
  std::string path = req.path;
  if (sequential) {
    char suffix[16];
    snprintf(suffix, sizeof suffix, "%010d", parent_stat.cversion);
    path += suffix;
  }
  if (path == "/" || FindChild(parent.node, BaseName(path))) return err::kNodeExists;
  if (parent_stat.ephemeral_owner != 0 && parent_stat.ephemeral_owner != kContainerOwner) {
    return err::kNoChildrenForEphemerals;
  }
  bool ephemeral = req.flags == create_mode::kEphemeral || req.flags == create_mode::kEphemeralSequential;
  if (ephemeral && txn.session_id == 0) return err::kBadArguments;

  if (undo) undo->push_back(Undo{Undo::kRemoveCreated, path, {}, {}, 0, parent_stat});
  parent_stat.cversion++;
  parent_stat.pzxid = txn.zxid;
  Node* p = Rewrite(parent, parent.node->data(), parent_stat, parent_acl, true);

  Stat stat;
  stat.czxid = stat.mzxid = stat.pzxid = txn.zxid;
  stat.ctime = stat.mtime = txn.time_ms;
  stat.ephemeral_owner = container ? kContainerOwner : (ephemeral ? txn.session_id : 0);
  int32_t acl = InternAcl(req.acl);
  unsigned char packed[kMaxStatBytes];
  size_t len = EncodeStat(stat, acl, packed);
  AddChild(*pool_, p, NodeBlock::Make(*pool_, BaseName(path), req.data, packed, len, false, nullptr));
  node_count_++;
  data_size_ += static_cast<int64_t>(path.size() + req.data.size());
  Track(path, stat.ephemeral_owner);

  stat.data_length = static_cast<int32_t>(req.data.size());
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
  Located parent = Locate(parent_path);
  if (!parent.node) return err::kNoNode;
  Node* node = FindChild(parent.node, BaseName(req.path));
  if (!node) return err::kNoNode;
  Stat stat;
  int32_t acl;
  NodeBlock::StoredStat(node, &stat, &acl);
  if (container_only && stat.ephemeral_owner != kContainerOwner) return err::kBadArguments;
  if (req.version != -1 && req.version != stat.version) return err::kBadVersion;
  if (node->child_count() != 0) return err::kNotEmpty;

  Stat parent_stat;
  int32_t parent_acl;
  NodeBlock::StoredStat(parent.node, &parent_stat, &parent_acl);
  if (undo) {
    undo->push_back(Undo{Undo::kRestoreDeleted, req.path, std::string(node->data()), stat, acl, parent_stat});
  }
  Remove(req.path, node, parent.node);
  if (txn.zxid > parent_stat.pzxid) {
    parent_stat.pzxid = txn.zxid;
    Rewrite(parent, parent.node->data(), parent_stat, parent_acl, false);
  }
  events->push_back(WatchEvent{event::kNodeDeleted, req.path});
  events->push_back(WatchEvent{event::kNodeChildrenChanged, parent_path});
  return err::kOk;
}

int32_t DataTree::DoSetData(const SetDataRequest& req, const Txn& txn, std::string* reply,
                            std::vector<WatchEvent>* events, std::vector<Undo>* undo) {
  if (!ValidPath(req.path)) return err::kBadArguments;
  Located at = Locate(req.path);
  if (!at.node) return err::kNoNode;
  Stat stat;
  int32_t acl;
  NodeBlock::StoredStat(at.node, &stat, &acl);
  if (req.version != -1 && req.version != stat.version) return err::kBadVersion;
  std::string_view old = at.node->data();
  if (undo) undo->push_back(Undo{Undo::kRestoreData, req.path, std::string(old), stat, acl, {}});
  data_size_ += static_cast<int64_t>(req.data.size()) - static_cast<int64_t>(old.size());
  stat.version++;
  stat.mzxid = txn.zxid;
  stat.mtime = txn.time_ms;
  Node* node = Rewrite(at, req.data, stat, acl, false);
  JuteWriter w(reply);
  WriteStat(w, VisibleStat(*node));
  events->push_back(WatchEvent{event::kNodeDataChanged, req.path});
  return err::kOk;
}

int32_t DataTree::DoSetAcl(const SetAclRequest& req, std::string* reply) {
  if (!ValidPath(req.path)) return err::kBadArguments;
  Located at = Locate(req.path);
  if (!at.node) return err::kNoNode;
  if (req.acl.empty()) return err::kInvalidACL;
  Stat stat;
  int32_t acl;
  NodeBlock::StoredStat(at.node, &stat, &acl);
  if (req.version != -1 && req.version != stat.aversion) return err::kBadVersion;
  acl = InternAcl(req.acl);
  stat.aversion++;
  Node* node = Rewrite(at, at.node->data(), stat, acl, false);
  JuteWriter w(reply);
  WriteStat(w, VisibleStat(*node));
  return err::kOk;
}

int32_t DataTree::DoCheck(const PathVersion& req) const {
  if (!ValidPath(req.path)) return err::kBadArguments;
  const Node* node = Find(req.path);
  if (!node) return err::kNoNode;
  if (req.version != -1 && req.version != node->stat().version) return err::kBadVersion;
  return err::kOk;
}

void DataTree::RollBack(std::vector<Undo>* undo) {
  // Puts a parent's stat back as it was before the op; its ACL no op of a multi changes.
  auto restore_parent = [this](std::string_view path, const Stat& stat) {
    Located parent = Locate(Parent(path));
    if (!parent.node) return;
    Rewrite(parent, parent.node->data(), stat, parent.node->acl(), false);
  };
  for (auto it = undo->rbegin(); it != undo->rend(); ++it) {
    switch (it->kind) {
      case Undo::kRemoveCreated: {
        Located at = Locate(it->path);
        if (at.node) Remove(it->path, at.node, at.holder);
        restore_parent(it->path, it->parent_stat);
        break;
      }
      case Undo::kRestoreDeleted:
        Insert(it->path, it->data, it->stat, it->acl);
        restore_parent(it->path, it->parent_stat);
        break;
      case Undo::kRestoreData: {
        Located at = Locate(it->path);
        if (!at.node) break;
        data_size_ += static_cast<int64_t>(it->data.size()) - static_cast<int64_t>(at.node->data().size());
        Rewrite(at, it->data, it->stat, at.node->acl(), false);
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
// nodes: count, (path data acl:int stat)*. Serialize lists every parent before its
// children; snapshots from before it did not, so Deserialize takes any order.
size_t DataTree::SerializedSize() const {
  size_t size = 4 + 4 + 8 + 4 + sessions_.size() * 12 + 4 + 4;
  for (const auto& acl : acls_) {
    size += 4;
    for (const auto& a : acl) size += 4 + 4 + a.scheme.size() + 4 + a.id.size();
  }
  // Per node: path and data with their lengths, the ACL index and the stat.
  return size + static_cast<size_t>(data_size_) + node_count_ * (4 + 4 + 4 + kStatBytes);
}

std::string DataTree::Serialize() const {
  std::string out;
  out.reserve(SerializedSize());
  SerializeTo(std::numeric_limits<size_t>::max(), [&](std::string_view piece) {
    out.append(piece);
    return true;
  });
  return out;
}

bool DataTree::SerializeTo(size_t chunk, const std::function<bool(std::string_view)>& sink) const {
  std::string buf;
  buf.reserve(std::min(chunk, SerializedSize()) + 4096);
  JuteWriter w(&buf);
  auto flush = [&](bool last) {
    if (buf.empty() || (!last && buf.size() < chunk)) return true;
    bool ok = sink(buf);
    buf.clear();
    return ok;
  };
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
  w.Int(static_cast<int32_t>(node_count_));
  auto emit = [&](const Node* node, const std::string& path) {
    w.String(path);
    w.Buffer(node->data());
    w.Int(node->acl());
    WriteStat(w, node->stat());
    return flush(false);
  };
  if (!root_) return flush(true);
  // Depth first with one frame per level, so the walk needs memory for the deepest path
  // only, not for a list of every node.
  struct Frame {
    const ChildTable* table;
    size_t next;      // the next slot of table to look at
    size_t path_len;  // the length of the parent's path in `path` ("/" counts as 0)
  };
  std::string path = "/";
  if (!emit(root_, path)) return false;
  std::vector<Frame> stack;
  if (const ChildTable* t = NodeBlock::Table(root_)) stack.push_back({t, 0, 0});
  while (!stack.empty()) {
    Frame& top = stack.back();
    const Node* child = nullptr;
    while (top.next <= top.table->mask && !(child = top.table->slots()[top.next])) ++top.next;
    if (!child) {
      stack.pop_back();
      continue;
    }
    ++top.next;
    path.resize(top.path_len);
    path += '/';
    path += child->name();
    if (!emit(child, path)) return false;
    if (const ChildTable* t = NodeBlock::Table(child)) stack.push_back({t, 0, path.size()});
  }
  return flush(true);
}

bool DataTree::Deserialize(std::string_view bytes) {
  if (bytes.substr(0, 4) != "QSNP") return false;
  std::string_view body = bytes.substr(4);
  JuteReader r(body);
  if (r.Int() != 2) return false;
  DataTree fresh{EmptyTag{}};
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
  // 0: inserted; 1: its parent is not there yet (depth says how deep it is); -1: damaged.
  auto load = [&fresh](JuteReader& in, size_t* depth) {
    std::string_view path = in.BufferView();
    std::string_view data = in.BufferView();
    int32_t acl = in.Int();
    Stat stat = ReadStat(in);
    if (!in.ok() || acl < 0 || static_cast<size_t>(acl) >= fresh.acls_.size() || !ValidPath(path)) return -1;
    if (fresh.Insert(path, data, stat, acl)) return 0;
    if (fresh.Find(path)) return -1;  // listed twice
    *depth = static_cast<size_t>(std::count(path.begin(), path.end(), '/'));
    return 1;
  };
  // A node listed before its parent (older snapshots are in no order) waits for a second
  // pass, shallowest first.
  std::vector<std::pair<size_t, size_t>> later;  // (depth, offset of its record in body)
  int32_t nnodes = r.Count(4 + 4 + 4 + kStatBytes);
  for (int32_t i = 0; i < nnodes && r.ok(); ++i) {
    size_t at = r.position();
    size_t depth = 0;
    int rc = load(r, &depth);
    if (rc < 0) return false;
    if (rc == 1) later.emplace_back(depth, at);
  }
  if (!r.ok() || r.remaining() != 0) return false;
  std::sort(later.begin(), later.end());
  for (const auto& [depth, at] : later) {
    JuteReader again(body.substr(at));
    size_t unused;
    if (load(again, &unused) != 0) return false;
  }
  if (!fresh.root_) return false;
  *this = std::move(fresh);
  return true;
}

}  // namespace faultline::coord
