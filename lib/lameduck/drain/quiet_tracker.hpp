#pragma once

// When traffic last reached the pod's serving ports, from successive readings of its sockets.
// A connection is new when a reading shows a socket the one before did not (by the kernel's
// socket cookie, or by its addresses where only /proc/net/tcp could be read); bytes arrived
// when a connection's tcpi_bytes_received grew, which is how a request on a kept-alive
// connection shows. Pure bookkeeping: the caller reads the sockets and says when.

#include "lameduck/core/deadline.hpp"
#include "lameduck/drain/socket_diag.hpp"

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace lameduck {

struct TrafficSighting {
  Clock::time_point at;  // the reading that first showed it
  std::string peer;      // "10.1.2.3:41234", or "[fd00::3]:41234"
  int local_port = 0;
};

class QuietTracker {
public:
  // `local_addresses`: only sockets on these addresses count (the pod's IPs; a connection over
  // its loopback comes from a container of the pod itself, not from a consumer). Empty: any.
  explicit QuietTracker(std::vector<std::string> local_addresses = {});

  // The first reading is the baseline: connections already open then are not new, and only
  // what they receive afterwards counts. Listening sockets never count.
  void observe(const std::vector<TcpSocketReading>& sockets, Clock::time_point at);

  const std::optional<TrafficSighting>& last_connection() const { return m_last_connection; }
  const std::optional<TrafficSighting>& last_bytes() const { return m_last_bytes; }
  // The later of the two; the baseline's time when neither was seen.
  Clock::time_point last_traffic() const;
  int new_connections() const { return m_new_connections; }
  // Connections open in the last reading (not listening, not in TIME_WAIT).
  int open_connections() const { return m_open_connections; }

private:
  bool counts(const TcpSocketReading& socket) const;

  std::vector<std::string> m_local_addresses;
  bool m_has_baseline = false;
  Clock::time_point m_baseline_at{};
  std::map<std::string, std::optional<std::uint64_t>> m_known; // identity -> bytes received
  std::optional<TrafficSighting> m_last_connection;
  std::optional<TrafficSighting> m_last_bytes;
  int m_new_connections = 0;
  int m_open_connections = 0;
};

// "10.1.2.3:41234" or "[fd00::3]:41234".
std::string peer_name(const TcpSocketReading& socket);

} // namespace lameduck
