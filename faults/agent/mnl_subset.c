/* The part of the libmnl API that libnetfilter_queue's message helpers (nlmsg.o) and the
 * delayer use, for linking the agent statically: Debian ships libmnl only as a shared
 * library. Compiled only when no libmnl.a is found (faults/agent/CMakeLists.txt).
 * Semantics follow libmnl's documented behaviour: TLVs aligned to 4 bytes, callbacks
 * returning MNL_CB_OK to continue. */
#include <errno.h>
#include <string.h>

#include <libmnl/libmnl.h>

struct nlmsghdr *mnl_nlmsg_put_header(void *buf) {
  int len = MNL_ALIGN(sizeof(struct nlmsghdr));
  struct nlmsghdr *nlh = buf;
  memset(buf, 0, len);
  nlh->nlmsg_len = len;
  return nlh;
}

void *mnl_nlmsg_put_extra_header(struct nlmsghdr *nlh, size_t size) {
  char *ptr = (char *)nlh + nlh->nlmsg_len;
  size_t len = MNL_ALIGN(size);
  nlh->nlmsg_len += len;
  memset(ptr, 0, len);
  return ptr;
}

uint16_t mnl_attr_get_type(const struct nlattr *attr) { return attr->nla_type & NLA_TYPE_MASK; }

uint16_t mnl_attr_get_payload_len(const struct nlattr *attr) {
  return attr->nla_len - MNL_ATTR_HDRLEN;
}

void *mnl_attr_get_payload(const struct nlattr *attr) { return (char *)attr + MNL_ATTR_HDRLEN; }

void mnl_attr_put(struct nlmsghdr *nlh, uint16_t type, size_t len, const void *data) {
  struct nlattr *attr = (struct nlattr *)((char *)nlh + MNL_ALIGN(nlh->nlmsg_len));
  uint16_t payload_len = MNL_ALIGN(sizeof(struct nlattr)) + len;
  int pad = MNL_ALIGN(len) - len;
  attr->nla_type = type;
  attr->nla_len = payload_len;
  memcpy(mnl_attr_get_payload(attr), data, len);
  if (pad > 0) memset((char *)mnl_attr_get_payload(attr) + len, 0, pad);
  nlh->nlmsg_len += MNL_ALIGN(payload_len);
}

void mnl_attr_put_u32(struct nlmsghdr *nlh, uint16_t type, uint32_t data) {
  mnl_attr_put(nlh, type, sizeof(uint32_t), &data);
}

int mnl_attr_type_valid(const struct nlattr *attr, uint16_t max) {
  if (mnl_attr_get_type(attr) > max) {
    errno = EOPNOTSUPP;
    return -1;
  }
  return 1;
}

int mnl_attr_validate2(const struct nlattr *attr, enum mnl_attr_data_type type, size_t exp_len) {
  (void)type;
  if (attr->nla_len < MNL_ATTR_HDRLEN || mnl_attr_get_payload_len(attr) < exp_len) {
    errno = ERANGE;
    return -1;
  }
  return 0;
}

int mnl_attr_validate(const struct nlattr *attr, enum mnl_attr_data_type type) {
  static const size_t min_len[MNL_TYPE_MAX] = {
      [MNL_TYPE_U8] = 1, [MNL_TYPE_U16] = 2, [MNL_TYPE_U32] = 4,
      [MNL_TYPE_U64] = 8, [MNL_TYPE_MSECS] = 8,
  };
  if ((unsigned)type >= MNL_TYPE_MAX) {
    errno = EINVAL;
    return -1;
  }
  return mnl_attr_validate2(attr, type, min_len[type]);
}

int mnl_attr_parse(const struct nlmsghdr *nlh, unsigned int offset, mnl_attr_cb_t cb,
                   void *data) {
  const char *p = (const char *)nlh + MNL_NLMSG_HDRLEN + MNL_ALIGN(offset);
  const char *end = (const char *)nlh + nlh->nlmsg_len;
  while (end - p >= (int)sizeof(struct nlattr)) {
    const struct nlattr *attr = (const struct nlattr *)p;
    if (attr->nla_len < sizeof(struct nlattr) || attr->nla_len > end - p) break;
    int ret = cb(attr, data);
    if (ret <= MNL_CB_STOP) return ret;
    p += MNL_ALIGN(attr->nla_len);
  }
  return MNL_CB_OK;
}
