#pragma once

// The drain flags drain-wait and prestop share (contract §4 and §5), as given, and the one
// place that turns them into the drain client's options: the two tools cannot disagree on a
// default or on what counts as a bad value.

#include "lameduck/core/expected.hpp"
#include "lameduck/drain/drain_client.hpp"

#include <string>
#include <vector>

namespace lameduck {

struct DrainFlags {
  std::string drain_url;  // --drain-url
  std::string status_url; // --status-url; empty: the drain URL
  Duration poll_interval = k_default_poll_interval;
  std::vector<int> connections_ports; // --connections-port
  bool fail_if_missing = false;       // --if-missing fail
};

// The drain client's options; an error names the flag whose value is unusable.
Expected<DrainClientOptions> drain_client_options(const DrainFlags& flags, std::string termination_id);

} // namespace lameduck
