#pragma once

// Counting the connections an agent still serves, from the kernel's own table: the lines of
// /proc/net/tcp and /proc/net/tcp6 ("sl local_address rem_address st ..." with hex fields).

#include "lameduck/core/expected.hpp"

#include <string_view>
#include <vector>

namespace lameduck {

inline constexpr int k_tcp_established = 0x01; // include/net/tcp_states.h

struct TcpSocketEntry {
  int local_port = 0;
  int state = 0;
};

// The entries of one table; the header line and lines that do not parse are skipped.
std::vector<TcpSocketEntry> parse_proc_net_tcp(std::string_view table);

// ESTABLISHED connections whose local port is one of `ports`, in this network namespace.
Expected<int> count_established_connections(const std::vector<int>& ports);

} // namespace lameduck
