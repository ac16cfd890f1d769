#include "coord/acl.h"

#include <arpa/inet.h>

#include <cstring>

#include "coord/wire.h"

namespace faultline::coord {

namespace {

uint32_t Rol(uint32_t v, int n) { return (v << n) | (v >> (32 - n)); }

// "a.b.c.d" or "a.b.c.d/bits" against an address.
bool IpMatches(const std::string& pattern, const std::string& addr) {
  std::string net = pattern;
  int bits = 32;
  size_t slash = pattern.find('/');
  if (slash != std::string::npos) {
    net = pattern.substr(0, slash);
    bits = atoi(pattern.c_str() + slash + 1);
    if (bits < 0 || bits > 32) return false;
  }
  in_addr a, b;
  if (inet_pton(AF_INET, net.c_str(), &a) != 1 || inet_pton(AF_INET, addr.c_str(), &b) != 1) {
    return pattern == addr;
  }
  uint32_t mask = bits == 0 ? 0 : htonl(~uint32_t{0} << (32 - bits));
  return (a.s_addr & mask) == (b.s_addr & mask);
}

}  // namespace

std::string Sha1(std::string_view data) {
  uint32_t h[5] = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0};
  std::string msg(data);
  uint64_t bit_len = static_cast<uint64_t>(data.size()) * 8;
  msg.push_back(static_cast<char>(0x80));
  while (msg.size() % 64 != 56) msg.push_back(0);
  for (int i = 7; i >= 0; --i) msg.push_back(static_cast<char>(bit_len >> (8 * i)));
  for (size_t off = 0; off < msg.size(); off += 64) {
    uint32_t w[80];
    for (int i = 0; i < 16; ++i) {
      const auto* p = reinterpret_cast<const unsigned char*>(msg.data() + off + 4 * i);
      w[i] = (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
    }
    for (int i = 16; i < 80; ++i) w[i] = Rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
    for (int i = 0; i < 80; ++i) {
      uint32_t f, k;
      if (i < 20) {
        f = (b & c) | (~b & d);
        k = 0x5A827999;
      } else if (i < 40) {
        f = b ^ c ^ d;
        k = 0x6ED9EBA1;
      } else if (i < 60) {
        f = (b & c) | (b & d) | (c & d);
        k = 0x8F1BBCDC;
      } else {
        f = b ^ c ^ d;
        k = 0xCA62C1D6;
      }
      uint32_t t = Rol(a, 5) + f + e + k + w[i];
      e = d;
      d = c;
      c = Rol(b, 30);
      b = a;
      a = t;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
  }
  std::string out;
  for (uint32_t v : h) {
    for (int i = 3; i >= 0; --i) out.push_back(static_cast<char>(v >> (8 * i)));
  }
  return out;
}

std::string Base64(std::string_view data) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < data.size(); i += 3) {
    uint32_t v = (uint32_t{static_cast<unsigned char>(data[i])} << 16) |
                 (uint32_t{static_cast<unsigned char>(data[i + 1])} << 8) |
                 static_cast<unsigned char>(data[i + 2]);
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(kAlphabet[(v >> 6) & 63]);
    out.push_back(kAlphabet[v & 63]);
  }
  size_t rest = data.size() - i;
  if (rest > 0) {
    uint32_t v = uint32_t{static_cast<unsigned char>(data[i])} << 16;
    if (rest == 2) v |= uint32_t{static_cast<unsigned char>(data[i + 1])} << 8;
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(rest == 2 ? kAlphabet[(v >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

std::string DigestId(std::string_view user_password) {
  size_t colon = user_password.find(':');
  std::string_view user = user_password.substr(0, colon);
  return std::string(user) + ":" + Base64(Sha1(user_password));
}

bool AclAllows(const std::vector<Acl>& acl, int32_t perm, const std::vector<AuthId>& ids) {
  for (const auto& a : acl) {
    if ((a.perms & perm) == 0) continue;
    if (a.scheme == "world" && a.id == "anyone") return true;
    for (const auto& id : ids) {
      if (id.scheme == "super") return true;
      if (id.scheme != a.scheme) continue;
      if (a.scheme == "ip" ? IpMatches(a.id, id.id) : a.id == id.id) return true;
    }
  }
  return false;
}

int32_t FixupAcl(std::vector<Acl>* acl, const std::vector<AuthId>& ids) {
  if (acl->empty()) return err::kInvalidACL;
  std::vector<Acl> out;
  for (const auto& a : *acl) {
    if (a.perms == 0 || (a.perms & ~perm::kAll) != 0) return err::kInvalidACL;
    if (a.scheme == "world") {
      if (a.id != "anyone") return err::kInvalidACL;
      out.push_back(a);
    } else if (a.scheme == "auth") {
      bool any = false;
      for (const auto& id : ids) {
        if (id.scheme == "ip" || id.scheme == "super") continue;
        out.push_back(Acl{a.perms, id.scheme, id.id});
        any = true;
      }
      if (!any) return err::kInvalidACL;
    } else if (a.scheme == "digest") {
      size_t colon = a.id.find(':');
      if (colon == std::string::npos || colon == 0) return err::kInvalidACL;
      out.push_back(a);
    } else if (a.scheme == "ip") {
      std::string net = a.id.substr(0, a.id.find('/'));
      in_addr tmp;
      if (inet_pton(AF_INET, net.c_str(), &tmp) != 1) return err::kInvalidACL;
      out.push_back(a);
    } else {
      return err::kInvalidACL;
    }
  }
  // ZooKeeper drops duplicates that `auth` expansion can produce.
  std::vector<Acl> unique;
  for (auto& a : out) {
    bool dup = false;
    for (const auto& u : unique) dup = dup || u == a;
    if (!dup) unique.push_back(std::move(a));
  }
  *acl = std::move(unique);
  return err::kOk;
}

}  // namespace faultline::coord
