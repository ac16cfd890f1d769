#include "coord/records.h"

#include "coord/wire.h"

namespace faultline::coord {

void WriteStat(JuteWriter& w, const Stat& s) {
  w.Long(s.czxid);
  w.Long(s.mzxid);
  w.Long(s.ctime);
  w.Long(s.mtime);
  w.Int(s.version);
  w.Int(s.cversion);
  w.Int(s.aversion);
  w.Long(s.ephemeral_owner);
  w.Int(s.data_length);
  w.Int(s.num_children);
  w.Long(s.pzxid);
}

Stat ReadStat(JuteReader& r) {
  Stat s;
  s.czxid = r.Long();
  s.mzxid = r.Long();
  s.ctime = r.Long();
  s.mtime = r.Long();
  s.version = r.Int();
  s.cversion = r.Int();
  s.aversion = r.Int();
  s.ephemeral_owner = r.Long();
  s.data_length = r.Int();
  s.num_children = r.Int();
  s.pzxid = r.Long();
  return s;
}

void WriteAcls(JuteWriter& w, const std::vector<Acl>& acls) {
  w.Int(static_cast<int32_t>(acls.size()));
  for (const auto& a : acls) {
    w.Int(a.perms);
    w.String(a.scheme);
    w.String(a.id);
  }
}

std::vector<Acl> ReadAcls(JuteReader& r) {
  std::vector<Acl> out;
  int32_t n = r.Count(12);
  out.reserve(static_cast<size_t>(n));
  for (int32_t i = 0; i < n && r.ok(); ++i) {
    Acl a;
    a.perms = r.Int();
    a.scheme = r.String();
    a.id = r.String();
    out.push_back(std::move(a));
  }
  return out;
}

CreateRequest ReadCreate(JuteReader& r, bool with_ttl) {
  CreateRequest c;
  c.path = r.String();
  c.data = r.Buffer();
  c.acl = ReadAcls(r);
  c.flags = r.Int();
  if (with_ttl) c.ttl = r.Long();
  return c;
}

void WriteCreate(JuteWriter& w, const CreateRequest& c, bool with_ttl) {
  w.String(c.path);
  w.Buffer(c.data);
  WriteAcls(w, c.acl);
  w.Int(c.flags);
  if (with_ttl) w.Long(c.ttl);
}

PathVersion ReadPathVersion(JuteReader& r) {
  PathVersion p;
  p.path = r.String();
  p.version = r.Int();
  return p;
}

void WritePathVersion(JuteWriter& w, const PathVersion& p) {
  w.String(p.path);
  w.Int(p.version);
}

SetDataRequest ReadSetData(JuteReader& r) {
  SetDataRequest s;
  s.path = r.String();
  s.data = r.Buffer();
  s.version = r.Int();
  return s;
}

void WriteSetData(JuteWriter& w, const SetDataRequest& s) {
  w.String(s.path);
  w.Buffer(s.data);
  w.Int(s.version);
}

SetAclRequest ReadSetAcl(JuteReader& r) {
  SetAclRequest s;
  s.path = r.String();
  s.acl = ReadAcls(r);
  s.version = r.Int();
  return s;
}

void WriteSetAcl(JuteWriter& w, const SetAclRequest& s) {
  w.String(s.path);
  WriteAcls(w, s.acl);
  w.Int(s.version);
}

bool ReadMulti(JuteReader& r, std::vector<MultiOp>* ops) {
  ops->clear();
  while (r.ok()) {
    int32_t type = r.Int();
    bool done = r.Bool();
    int32_t err = r.Int();  // only meaningful for kError ops written by prep
    if (!r.ok()) return false;
    if (done) return true;
    MultiOp op;
    op.type = type;
    switch (type) {
      case op::kError:
        op.err = err;
        break;
      case op::kCreate:
      case op::kCreate2:
      case op::kCreateContainer:
        op.create = ReadCreate(r, false);
        break;
      case op::kCreateTTL:
        op.create = ReadCreate(r, true);
        break;
      case op::kDelete:
      case op::kCheck:
        op.path_version = ReadPathVersion(r);
        break;
      case op::kSetData:
        op.set_data = ReadSetData(r);
        break;
      default:
        return false;
    }
    ops->push_back(std::move(op));
  }
  return false;
}

void WriteMulti(JuteWriter& w, const std::vector<MultiOp>& ops) {
  for (const auto& op : ops) {
    w.Int(op.type);
    w.Bool(false);
    w.Int(op.type == op::kError ? op.err : -1);
    switch (op.type) {
      case op::kCreate:
      case op::kCreate2:
      case op::kCreateContainer:
        WriteCreate(w, op.create, false);
        break;
      case op::kCreateTTL:
        WriteCreate(w, op.create, true);
        break;
      case op::kDelete:
      case op::kCheck:
        WritePathVersion(w, op.path_version);
        break;
      case op::kSetData:
        WriteSetData(w, op.set_data);
        break;
      default:
        break;
    }
  }
  w.Int(-1);
  w.Bool(true);
  w.Int(-1);
}

}  // namespace faultline::coord
