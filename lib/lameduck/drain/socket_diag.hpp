#pragma once

// The pod's TCP sockets as the kernel sees them, through the socket-diagnostics netlink
// interface (what `ss` uses): every state, time-wait included, with each socket's cookie and
// the bytes it received, so that a request on a kept-alive connection shows as well as a new
// connection does. /proc/net/tcp is the fallback where netlink is refused; it has neither.

#include "lameduck/core/deadline.hpp"
#include "lameduck/core/expected.hpp"

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace lameduck {

// One TCP socket of this network namespace, as the kernel reports it.
struct TcpSocketReading {
  std::optional<std::uint64_t> cookie; // the kernel's socket cookie (inet_diag idiag_cookie); absent from /proc/net/tcp
  std::string local_address;           // "10.1.2.3" or "fd00::3"; an IPv4-mapped IPv6 address is written as IPv4
  int local_port = 0;
  std::string peer_address;
  int peer_port = 0;
  // include/net/tcp_states.h: 1 ESTABLISHED ... 6 TIME_WAIT, 10 LISTEN; a connection still in
  // its handshake (NEW_SYN_RECV inside the kernel) is reported as 3 SYN_RECV.
  int state = 0;
  std::optional<std::uint64_t> bytes_received; // tcp_info's tcpi_bytes_received, when INET_DIAG_INFO came with it
};

// What one netlink receive buffer held: the sockets of its SOCK_DIAG_BY_FAMILY messages, and
// whether NLMSG_DONE ended the dump.
struct SockDiagBatch {
  std::vector<TcpSocketReading> sockets;
  bool done = false;
};

// Parses the messages of one receive buffer of an inet_diag dump. The bytes are outside input:
// any of them give a batch or an error, never a read past a length. A message cut short is an
// error; a tcp_info too short to hold tcpi_bytes_received leaves bytes_received empty.
// NLMSG_ERROR gives an error naming the errno text.
Expected<SockDiagBatch> parse_sock_diag_messages(std::span<const std::uint8_t> buffer);

// Every TCP socket of this network namespace in any state of a connection (listening and
// TIME_WAIT included; bound-only sockets not) whose local port is one of `ports`, IPv4 and IPv6,
// within the deadline: a dump that does not finish in time is an error. Errors name what
// failed ("netlink socket: Permission denied"), so a caller can say why it fell back.
Expected<std::vector<TcpSocketReading>> read_tcp_sockets_netlink(const std::vector<int>& ports,
                                                                 const Deadline& deadline);

// The same from /proc/net/tcp and /proc/net/tcp6, without cookies or byte counts: for where
// netlink is refused.
Expected<std::vector<TcpSocketReading>> read_tcp_sockets_proc(const std::vector<int>& ports);

} // namespace lameduck
