#include "lameduck/drain/quiet_tracker.hpp"

#include <algorithm>

namespace lameduck {

namespace {

constexpr int k_tcp_time_wait = 6;
constexpr int k_tcp_listen = 10;

std::string identity_of(const TcpSocketReading& socket) {
  if (socket.cookie) {
    return "cookie:" + std::to_string(*socket.cookie);
  }
  return socket.local_address + "|" + std::to_string(socket.local_port) + "|" + peer_name(socket);
}

} // namespace

std::string peer_name(const TcpSocketReading& socket) {
  const bool ipv6 = socket.peer_address.find(':') != std::string::npos;
  return (ipv6 ? "[" + socket.peer_address + "]" : socket.peer_address) + ":" + std::to_string(socket.peer_port);
}

QuietTracker::QuietTracker(std::vector<std::string> local_addresses) : m_local_addresses(std::move(local_addresses)) {}

bool QuietTracker::counts(const TcpSocketReading& socket) const {
  if (socket.state == k_tcp_listen) {
    return false;
  }
  return m_local_addresses.empty() ||
         std::find(m_local_addresses.begin(), m_local_addresses.end(), socket.local_address) != m_local_addresses.end();
}

void QuietTracker::observe(const std::vector<TcpSocketReading>& sockets, Clock::time_point at) {
  std::map<std::string, std::optional<std::uint64_t>> known;
  int open = 0;
  for (const auto& socket : sockets) {
    if (!counts(socket)) {
      continue;
    }
    open += socket.state != k_tcp_time_wait ? 1 : 0;
    const std::string identity = identity_of(socket);
    known[identity] = socket.bytes_received;
    if (!m_has_baseline) {
      continue;
    }
    const TrafficSighting sighting{at, peer_name(socket), socket.local_port};
    const auto before = m_known.find(identity);
    if (before == m_known.end()) {
      ++m_new_connections;
      m_last_connection = sighting;
      if (socket.bytes_received.value_or(0) > 0) {
        m_last_bytes = sighting;
      }
    } else if (socket.bytes_received && before->second && *socket.bytes_received > *before->second) {
      m_last_bytes = sighting;
    }
  }
  // Only the last reading is kept: a socket that is gone cannot come back with the same cookie,
  // and an address pair that the kernel reuses is a new connection.
  m_known = std::move(known);
  m_open_connections = open;
  if (!m_has_baseline) {
    m_has_baseline = true;
    m_baseline_at = at;
  }
}

Clock::time_point QuietTracker::last_traffic() const {
  Clock::time_point last = m_baseline_at;
  for (const auto* sighting : {&m_last_connection, &m_last_bytes}) {
    if (*sighting) {
      last = std::max(last, (*sighting)->at);
    }
  }
  return last;
}

} // namespace lameduck
