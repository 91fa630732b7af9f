#pragma once

// Asks the agent's own health URL on a thread of its own, so that the event loop answering
// probes never waits on it. One check at a time: probes that arrive while it is in flight
// share its outcome. The check is bounded by its timeout, and the loop learns that it ended
// through fd(), with no polling.

#include "lameduck/core/duration.hpp"
#include "lameduck/core/url.hpp"

#include <memory>
#include <optional>
#include <string>

namespace lameduck {

class UpstreamCheck {
public:
  UpstreamCheck(Url upstream, Duration timeout);
  // Never waits for a check in flight: that one ends within its timeout on its own.
  ~UpstreamCheck();
  UpstreamCheck(const UpstreamCheck&) = delete;
  UpstreamCheck& operator=(const UpstreamCheck&) = delete;

  // Starts a check unless one is in flight already.
  void start();
  bool in_flight() const { return m_in_flight; }
  // Readable once the check in flight has ended.
  int fd() const;
  // Once fd() is readable: empty when the upstream answered 2xx or 3xx in time, else why not.
  // Nothing when no check has ended since the last call.
  std::optional<std::string> take_outcome();

  const Url& upstream() const { return m_upstream; }

private:
  struct Shared;

  Url m_upstream;
  Duration m_timeout;
  bool m_in_flight = false;
  std::shared_ptr<Shared> m_shared;
};

} // namespace lameduck
