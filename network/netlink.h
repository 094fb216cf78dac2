#pragma once
/// A small rtnetlink (NETLINK_ROUTE) client for the in-process bridge plugin: request building,
/// attribute parsing, and a socket bound to one network namespace. Building and parsing are
/// pure functions (unit-tested without root); `Socket` talks to the kernel of the netns it was
/// opened in, which it keeps for its whole life (a netlink socket belongs to the netns of its
/// creation, whatever thread later uses it).

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "common/error.h"
#include "common/unique_fd.h"

namespace berth::network::nl {

/// One netlink request: nlmsghdr, the family header, then attributes (4-byte aligned).
class Message {
 public:
  /// `flags` are added to NLM_F_REQUEST (callers add NLM_F_ACK, NLM_F_CREATE, ...).
  Message(uint16_t type, uint16_t flags);
  /// Append the family header (ifinfomsg, ifaddrmsg, rtmsg); call once, before attributes.
  void header(const void* p, size_t n);
  void attr(uint16_t type, const void* data, size_t n);
  void attrStr(uint16_t type, const std::string& s);  ///< NUL-terminated, like iproute2
  void attrU32(uint16_t type, uint32_t v) { attr(type, &v, sizeof v); }
  void attrU8(uint16_t type, uint8_t v) { attr(type, &v, sizeof v); }
  /// Open a nested attribute (NLA_F_NESTED is not set: rtnetlink does not require it, except
  /// where the caller ORs it into `type`); close it with end(returned offset).
  size_t begin(uint16_t type);
  void end(size_t at);
  /// Set the sequence number; the length is kept up to date by every append.
  void setSeq(uint32_t seq);
  const std::string& bytes() const { return buf_; }

 private:
  void pad();
  void setLen();
  std::string buf_;
};

/// Attributes in `body` (a run of rtattr): type (NLA_F_NESTED/NLA_F_NET_BYTEORDER masked off)
/// to payload. Stops at the first malformed attribute.
std::map<uint16_t, std::string_view> parseAttrs(std::string_view body);

/// The fields of an RTM_NEWLINK message the plugins need.
struct Link {
  int index = 0;
  std::string name;
  std::string mac;  ///< "aa:bb:cc:dd:ee:ff" (empty if the link has no address)
  unsigned flags = 0;
  int master = 0;
  std::string kind;  ///< IFLA_INFO_KIND ("bridge", "veth"), empty if absent
};

/// Parse one whole RTM_NEWLINK message (nlmsghdr included). kCorrupt if it is not one.
Result<Link> parseLink(std::string_view msg);

/// "aa:bb:..." of raw hardware address bytes.
std::string formatMac(std::string_view raw);

/// IPv4 dotted quad <-> host-order integer. parseIp4 returns nullopt on anything else.
std::optional<uint32_t> parseIp4(const std::string& s);
std::string formatIp4(uint32_t hostOrder);

// Request builders (all with NLM_F_ACK except getLinkMsg, whose answer is the link itself).
Message getLinkMsg(const std::string& name);
Message newBridgeMsg(const std::string& name);
/// A veth pair: `name` here, attached to `master` (ifindex, 0 = none); its peer `peer`
/// created directly in the netns of `peerNsFd`.
Message newVethMsg(const std::string& name, const std::string& peer, int peerNsFd, int master);
Message setUpMsg(int index);
/// Bridge port hairpin mode on (AF_BRIDGE RTM_SETLINK with IFLA_PROTINFO/IFLA_BRPORT_MODE).
Message setHairpinMsg(int index);
Message delLinkMsg(const std::string& name);
/// `addr`/`prefix` on `index`, with the subnet's broadcast address, scope global.
Message addAddr4Msg(int index, uint32_t addr, int prefix);
/// Route to dst/prefix (prefix 0 = default) via `gw` (0 = on-link) out of `oif`, main table.
Message addRoute4Msg(uint32_t dst, int prefix, uint32_t gw, int oif);

class Socket {
 public:
  /// A socket in the calling thread's netns.
  static Result<Socket> open();
  /// A socket in the netns pinned at `nsPath` (opened by a short-lived thread that joins it).
  static Result<Socket> openIn(const std::string& nsPath);
  /// Send `m` (which asks for an ACK) and wait for the kernel's answer. The error carries the
  /// kernel's errno, with `what` as context.
  Result<void> call(Message& m, std::string_view what);
  /// Send a request answered by one message (a GET) and return that message.
  Result<std::string> query(Message& m, std::string_view what);

 private:
  explicit Socket(UniqueFd fd) : fd_(std::move(fd)) {}
  Result<std::string> roundTrip(Message& m, std::string_view what, bool wantReply);
  UniqueFd fd_;
  uint32_t seq_ = 0;
};

/// RTM_GETLINK by name. A missing link is an errno error ENODEV.
Result<Link> getLink(Socket& s, const std::string& name);

}  // namespace berth::network::nl
