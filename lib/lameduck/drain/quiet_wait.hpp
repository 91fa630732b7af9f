#pragma once

// The quiet phase's wait: reads the pod's sockets on its serving ports every few milliseconds
// until none has received a new connection or a byte for `quiet`, so that the drain starts
// only once the consumers that were late to stop sending (kube-proxy on a busy node, ingress
// controllers, cloud load balancers) have in fact stopped. Netlink sock_diag first, with each
// connection's byte count; where it is refused, /proc/net/tcp{,6}, which shows new connections
// only.

#include "lameduck/core/deadline.hpp"
#include "lameduck/core/log.hpp"
#include "lameduck/drain/quiet_tracker.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lameduck {

struct QuietOptions {
  Duration quiet{std::chrono::seconds{1}};
  std::vector<int> ports;
  std::vector<std::string> local_addresses; // see QuietTracker; empty: any
  Duration poll{std::chrono::milliseconds{20}};
};

enum class QuietVerdict {
  quiet,      // nothing arrived for `quiet`, and the floor has passed
  busy,       // traffic still arrived when the deadline came
  unreadable, // neither netlink nor /proc could be read
};

std::string_view quiet_verdict_name(QuietVerdict verdict);

struct QuietResult {
  QuietVerdict verdict = QuietVerdict::unreadable;
  std::string reason;
  std::string source; // "sock_diag", "proc", or empty when nothing could be read
  std::optional<TrafficSighting> last_connection;
  std::optional<TrafficSighting> last_bytes;
  int new_connections = 0;
  int open_connections = 0;
};

// Waits until `quiet` has passed without traffic and the clock is past `floor` (the wait for
// consumers that needs no measuring, --min-delay), or until `deadline`. Traffic before the
// first reading is not known, so the quiet time is counted from then at the earliest.
QuietResult wait_until_quiet(const QuietOptions& options, Clock::time_point floor, const Deadline& deadline,
                             const Logger& logger);

} // namespace lameduck
