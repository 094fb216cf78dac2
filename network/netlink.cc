#include "network/netlink.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <net/if.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <thread>

namespace berth::network::nl {
namespace {

constexpr size_t kAlign = 4;
size_t aligned(size_t n) { return (n + kAlign - 1) & ~(kAlign - 1); }

}  // namespace

Message::Message(uint16_t type, uint16_t flags) {
  nlmsghdr h{};
  h.nlmsg_type = type;
  h.nlmsg_flags = static_cast<uint16_t>(NLM_F_REQUEST | flags);
  buf_.assign(reinterpret_cast<const char*>(&h), sizeof h);
  setLen();
}

void Message::pad() { buf_.resize(aligned(buf_.size()), '\0'); }

void Message::setLen() {
  auto len = static_cast<uint32_t>(buf_.size());
  std::memcpy(buf_.data() + offsetof(nlmsghdr, nlmsg_len), &len, sizeof len);
}

void Message::header(const void* p, size_t n) {
  buf_.append(static_cast<const char*>(p), n);
  pad();
  setLen();
}

void Message::attr(uint16_t type, const void* data, size_t n) {
  rtattr a{};
  a.rta_type = type;
  a.rta_len = static_cast<unsigned short>(RTA_LENGTH(n));
  buf_.append(reinterpret_cast<const char*>(&a), sizeof a);
  buf_.append(static_cast<const char*>(data), n);
  pad();
  setLen();
}

void Message::attrStr(uint16_t type, const std::string& s) { attr(type, s.c_str(), s.size() + 1); }

size_t Message::begin(uint16_t type) {
  size_t at = buf_.size();
  rtattr a{};
  a.rta_type = type;
  buf_.append(reinterpret_cast<const char*>(&a), sizeof a);
  setLen();
  return at;
}

void Message::end(size_t at) {
  auto len = static_cast<unsigned short>(buf_.size() - at);
  std::memcpy(buf_.data() + at + offsetof(rtattr, rta_len), &len, sizeof len);
}

void Message::setSeq(uint32_t seq) {
  std::memcpy(buf_.data() + offsetof(nlmsghdr, nlmsg_seq), &seq, sizeof seq);
}

std::map<uint16_t, std::string_view> parseAttrs(std::string_view body) {
  std::map<uint16_t, std::string_view> out;
  size_t off = 0;
  while (off + sizeof(rtattr) <= body.size()) {
    rtattr a;
    std::memcpy(&a, body.data() + off, sizeof a);
    if (a.rta_len < sizeof(rtattr) || off + a.rta_len > body.size()) {
      break;
    }
    out[static_cast<uint16_t>(a.rta_type & NLA_TYPE_MASK)] =
        body.substr(off + RTA_LENGTH(0), a.rta_len - RTA_LENGTH(0));
    off += aligned(a.rta_len);
  }
  return out;
}

std::string formatMac(std::string_view raw) {
  std::string s;
  char b[4];
  for (size_t i = 0; i < raw.size(); ++i) {
    std::snprintf(b, sizeof b, i ? ":%02x" : "%02x", static_cast<unsigned char>(raw[i]));
    s += b;
  }
  return s;
}

std::optional<uint32_t> parseIp4(const std::string& s) {
  in_addr a;
  if (::inet_pton(AF_INET, s.c_str(), &a) != 1) {
    return std::nullopt;
  }
  return ntohl(a.s_addr);
}

std::string formatIp4(uint32_t hostOrder) {
  in_addr a{htonl(hostOrder)};
  char b[INET_ADDRSTRLEN];
  ::inet_ntop(AF_INET, &a, b, sizeof b);
  return b;
}

Result<Link> parseLink(std::string_view msg) {
  if (msg.size() < NLMSG_LENGTH(sizeof(ifinfomsg))) {
    return fail(ErrorCode::kCorrupt, "netlink: short link message");
  }
  nlmsghdr h;
  std::memcpy(&h, msg.data(), sizeof h);
  if (h.nlmsg_type != RTM_NEWLINK || h.nlmsg_len > msg.size()) {
    return fail(ErrorCode::kCorrupt, "netlink: not a link message");
  }
  ifinfomsg ifi;
  std::memcpy(&ifi, msg.data() + NLMSG_HDRLEN, sizeof ifi);
  Link l;
  l.index = ifi.ifi_index;
  l.flags = ifi.ifi_flags;
  size_t attrsAt = NLMSG_LENGTH(aligned(sizeof(ifinfomsg)));
  auto attrs = parseAttrs(msg.substr(attrsAt, h.nlmsg_len - attrsAt));
  if (auto it = attrs.find(IFLA_IFNAME); it != attrs.end()) {
    l.name = std::string(it->second.data(), strnlen(it->second.data(), it->second.size()));
  }
  if (auto it = attrs.find(IFLA_ADDRESS); it != attrs.end()) {
    l.mac = formatMac(it->second);
  }
  if (auto it = attrs.find(IFLA_MASTER); it != attrs.end() && it->second.size() >= 4) {
    std::memcpy(&l.master, it->second.data(), 4);
  }
  if (auto it = attrs.find(IFLA_LINKINFO); it != attrs.end()) {
    auto info = parseAttrs(it->second);
    if (auto k = info.find(IFLA_INFO_KIND); k != info.end()) {
      l.kind = std::string(k->second.data(), strnlen(k->second.data(), k->second.size()));
    }
  }
  return l;
}

namespace {
ifinfomsg ifi(int index, unsigned char family = AF_UNSPEC) {
  ifinfomsg i{};
  i.ifi_family = family;
  i.ifi_index = index;
  return i;
}
}  // namespace

Message getLinkMsg(const std::string& name) {
  Message m(RTM_GETLINK, 0);
  auto i = ifi(0);
  m.header(&i, sizeof i);
  m.attrStr(IFLA_IFNAME, name);
  return m;
}

Message newBridgeMsg(const std::string& name) {
  Message m(RTM_NEWLINK, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL);
  auto i = ifi(0);
  m.header(&i, sizeof i);
  m.attrStr(IFLA_IFNAME, name);
  size_t info = m.begin(IFLA_LINKINFO);
  m.attrStr(IFLA_INFO_KIND, "bridge");
  m.end(info);
  return m;
}

Message newVethMsg(const std::string& name, const std::string& peer, int peerNsFd, int master) {
  Message m(RTM_NEWLINK, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL);
  auto i = ifi(0);
  m.header(&i, sizeof i);
  m.attrStr(IFLA_IFNAME, name);
  if (master > 0) {
    m.attrU32(IFLA_MASTER, static_cast<uint32_t>(master));
  }
  size_t info = m.begin(IFLA_LINKINFO);
  m.attrStr(IFLA_INFO_KIND, "veth");
  size_t data = m.begin(IFLA_INFO_DATA);
  size_t p = m.begin(VETH_INFO_PEER);
  auto pi = ifi(0);
  m.header(&pi, sizeof pi);  // the peer's ifinfomsg sits inside the attribute
  m.attrStr(IFLA_IFNAME, peer);
  if (peerNsFd >= 0) {
    m.attrU32(IFLA_NET_NS_FD, static_cast<uint32_t>(peerNsFd));
  }
  m.end(p);
  m.end(data);
  m.end(info);
  return m;
}

Message setUpMsg(int index) {
  Message m(RTM_NEWLINK, NLM_F_ACK);
  auto i = ifi(index);
  i.ifi_flags = IFF_UP;
  i.ifi_change = IFF_UP;
  m.header(&i, sizeof i);
  return m;
}

Message setHairpinMsg(int index) {
  Message m(RTM_SETLINK, NLM_F_ACK);
  auto i = ifi(index, AF_BRIDGE);
  m.header(&i, sizeof i);
  size_t pi = m.begin(IFLA_PROTINFO | NLA_F_NESTED);
  m.attrU8(IFLA_BRPORT_MODE, 1);
  m.end(pi);
  return m;
}

Message delLinkMsg(const std::string& name) {
  Message m(RTM_DELLINK, NLM_F_ACK);
  auto i = ifi(0);
  m.header(&i, sizeof i);
  m.attrStr(IFLA_IFNAME, name);
  return m;
}

Message addAddr4Msg(int index, uint32_t addr, int prefix) {
  Message m(RTM_NEWADDR, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL);
  ifaddrmsg a{};
  a.ifa_family = AF_INET;
  a.ifa_prefixlen = static_cast<unsigned char>(prefix);
  a.ifa_scope = RT_SCOPE_UNIVERSE;
  a.ifa_index = static_cast<unsigned>(index);
  m.header(&a, sizeof a);
  uint32_t be = htonl(addr);
  m.attr(IFA_LOCAL, &be, 4);
  m.attr(IFA_ADDRESS, &be, 4);
  if (prefix < 31) {
    uint32_t mask = prefix == 0 ? 0 : ~uint32_t{0} << (32 - prefix);
    uint32_t brd = htonl(addr | ~mask);
    m.attr(IFA_BROADCAST, &brd, 4);
  }
  return m;
}

Message addRoute4Msg(uint32_t dst, int prefix, uint32_t gw, int oif) {
  Message m(RTM_NEWROUTE, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL);
  rtmsg r{};
  r.rtm_family = AF_INET;
  r.rtm_dst_len = static_cast<unsigned char>(prefix);
  r.rtm_table = RT_TABLE_MAIN;
  r.rtm_protocol = RTPROT_BOOT;
  r.rtm_scope = gw ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK;
  r.rtm_type = RTN_UNICAST;
  m.header(&r, sizeof r);
  if (prefix > 0) {
    uint32_t be = htonl(dst);
    m.attr(RTA_DST, &be, 4);
  }
  if (gw) {
    uint32_t be = htonl(gw);
    m.attr(RTA_GATEWAY, &be, 4);
  }
  if (oif > 0) {
    m.attrU32(RTA_OIF, static_cast<uint32_t>(oif));
  }
  return m;
}

Result<Socket> Socket::open() {
  UniqueFd fd(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
  if (!fd) {
    return failErrno("netlink socket");
  }
  sockaddr_nl sa{};
  sa.nl_family = AF_NETLINK;
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) < 0) {
    return failErrno("bind netlink socket");
  }
  return Socket(std::move(fd));
}

Result<Socket> Socket::openIn(const std::string& nsPath) {
  UniqueFd ns(::open(nsPath.c_str(), O_RDONLY | O_CLOEXEC));
  if (!ns) {
    return failErrno("open netns " + nsPath);
  }
  Result<Socket> out = fail(ErrorCode::kInternal, "netlink socket in " + nsPath);
  // setns on a throwaway thread: the caller's own thread never leaves its netns.
  std::thread t([&] {
    if (::setns(ns.get(), CLONE_NEWNET) < 0) {
      out = failErrno("setns " + nsPath);
      return;
    }
    out = open();
  });
  t.join();
  return out;
}

Result<std::string> Socket::roundTrip(Message& m, std::string_view what, bool wantReply) {
  m.setSeq(++seq_);
  const std::string& b = m.bytes();
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  for (;;) {
    ssize_t n = ::sendto(fd_.get(), b.data(), b.size(), 0, reinterpret_cast<sockaddr*>(&kernel),
                         sizeof kernel);
    if (n >= 0) {
      break;
    }
    if (errno != EINTR) {
      return failErrno(std::string(what));
    }
  }
  std::string buf(32768, '\0');
  for (;;) {
    ssize_t n = ::recv(fd_.get(), buf.data(), buf.size(), 0);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return failErrno(std::string(what));
    }
    size_t off = 0;
    while (off + sizeof(nlmsghdr) <= static_cast<size_t>(n)) {
      nlmsghdr h;
      std::memcpy(&h, buf.data() + off, sizeof h);
      if (h.nlmsg_len < sizeof h || off + h.nlmsg_len > static_cast<size_t>(n)) {
        return fail(ErrorCode::kCorrupt, std::string(what) + ": bad netlink answer");
      }
      if (h.nlmsg_seq == seq_) {
        if (h.nlmsg_type == NLMSG_ERROR) {
          nlmsgerr e;
          std::memcpy(&e, buf.data() + off + NLMSG_HDRLEN, sizeof e);
          if (e.error != 0) {
            return failErrno(std::string(what), -e.error);
          }
          if (!wantReply) {
            return std::string();
          }
        } else if (wantReply) {
          return buf.substr(off, h.nlmsg_len);
        }
      }
      off += NLMSG_ALIGN(h.nlmsg_len);
    }
  }
}

Result<void> Socket::call(Message& m, std::string_view what) {
  BERTH_TRY(roundTrip(m, what, false));
  return {};
}

Result<std::string> Socket::query(Message& m, std::string_view what) {
  return roundTrip(m, what, true);
}

Result<Link> getLink(Socket& s, const std::string& name) {
  auto m = getLinkMsg(name);
  BERTH_ASSIGN(std::string reply, s.query(m, "get link " + name));
  return parseLink(reply);
}

}  // namespace berth::network::nl
