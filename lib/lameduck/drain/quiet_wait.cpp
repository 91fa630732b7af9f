#include "lameduck/drain/quiet_wait.hpp"

#include <thread>

namespace lameduck {

namespace {

// One dump of a pod's sockets takes well under a millisecond; this only bounds a kernel that
// does not answer.
constexpr auto k_read_budget = std::chrono::milliseconds{500};

// Netlink until it is refused once (a seccomp profile or an LSM may forbid NETLINK_SOCK_DIAG),
// then /proc for the rest of the phase.
class SocketSource {
public:
  SocketSource(const std::vector<int>& ports, const Logger& logger) : m_ports(ports), m_logger(logger) {}

  Expected<std::vector<TcpSocketReading>> read(const Deadline& deadline) {
    if (m_netlink) {
      auto sockets = read_tcp_sockets_netlink(m_ports, deadline.within(k_read_budget));
      if (sockets) {
        return sockets;
      }
      m_netlink = false;
      m_logger.warn("quiet.fallback",
                    "sock_diag refused; reading /proc/net/tcp instead, which shows new connections but not bytes "
                    "on kept-alive ones",
                    {{"phase", "quiet"}, {"reason", sockets.error().message}});
    }
    return read_tcp_sockets_proc(m_ports);
  }

  std::string name() const { return m_netlink ? "sock_diag" : "proc"; }

private:
  const std::vector<int>& m_ports;
  const Logger& m_logger;
  bool m_netlink = true;
};

void fill_sightings(QuietResult& result, const QuietTracker& tracker) {
  result.last_connection = tracker.last_connection();
  result.last_bytes = tracker.last_bytes();
  result.new_connections = tracker.new_connections();
  result.open_connections = tracker.open_connections();
}

} // namespace

std::string_view quiet_verdict_name(QuietVerdict verdict) {
  switch (verdict) {
  case QuietVerdict::quiet:
    return "quiet";
  case QuietVerdict::busy:
    return "busy";
  case QuietVerdict::unreadable:
    return "unreadable";
  }
  return "unreadable";
}

QuietResult wait_until_quiet(const QuietOptions& options, Clock::time_point floor, const Deadline& deadline,
                             const Logger& logger) {
  QuietResult result;
  QuietTracker tracker(options.local_addresses);
  SocketSource source(options.ports, logger);
  for (;;) {
    const auto sockets = source.read(deadline);
    const auto now = Clock::now();
    if (!sockets) {
      result.reason = "cannot read the pod's sockets: " + sockets.error().message;
      return result;
    }
    result.source = source.name();
    tracker.observe(*sockets, now);
    fill_sightings(result, tracker);
    const auto quiet_since = tracker.last_traffic();
    if (now - quiet_since >= options.quiet && now >= floor) {
      result.verdict = QuietVerdict::quiet;
      result.reason = "no traffic for " + format_duration(options.quiet);
      return result;
    }
    if (deadline.expired(now)) {
      result.verdict = QuietVerdict::busy;
      result.reason = "traffic still arriving at the phase's end";
      return result;
    }
    // Traffic during the floor counts too, so the readings go on through it.
    std::this_thread::sleep_until(std::min(now + options.poll, deadline.when()));
  }
}

} // namespace lameduck
