#pragma once

// Counting the connections an agent still serves, from the kernel's own table: the lines of
// /proc/net/tcp and /proc/net/tcp6 ("sl local_address rem_address st ..." with hex fields).

#include "lameduck/core/expected.hpp"

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace lameduck {

inline constexpr int k_tcp_established = 0x01; // include/net/tcp_states.h

struct TcpSocketEntry {
  int local_port = 0;
  int state = 0;
  std::string local_address;  // "127.0.0.1" or "::1"; an IPv4-mapped IPv6 address as IPv4
  std::string remote_address;
  int remote_port = 0;
  std::uint64_t inode = 0; // the socket's inode, which /proc/PID/fd links name; 0 when the line has none
};

// An address in network byte order as text: 4 bytes as IPv4, 16 as IPv6 except that an
// IPv4-mapped address (::ffff:10.1.2.3, what a dual-stack socket shows for an IPv4 peer) is
// written as IPv4, so that one peer has one name whichever socket it reached. Empty for any
// other size.
std::string ip_address_text(std::span<const std::uint8_t> address);

// The entries of one table; the header line and lines that do not parse are skipped. The
// kernel writes each address as 32-bit words in this machine's byte order ("0100007F" is
// 127.0.0.1 on x86), so the table is only read on the machine that wrote it.
std::vector<TcpSocketEntry> parse_proc_net_tcp(std::string_view table);

// ESTABLISHED connections whose local port is one of `ports`, in this network namespace.
Expected<int> count_established_connections(const std::vector<int>& ports);

} // namespace lameduck
