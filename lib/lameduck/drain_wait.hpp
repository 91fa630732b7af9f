#pragma once

// drain-wait's body, behind its thin main: the drain protocol's client with one --timeout.

#include "lameduck/drain_client.hpp"
#include "lameduck/environment.hpp"
#include "lameduck/log.hpp"

#include <chrono>
#include <string>

namespace lameduck {

inline constexpr auto k_default_drain_timeout = std::chrono::seconds{30};
inline constexpr const char* k_default_state_dir = "/tmp/lameduck";

struct DrainWaitOptions {
  std::string drain_url;
  std::string status_url;
  Duration timeout = k_default_drain_timeout;
  Duration poll_interval = k_default_poll_interval;
  std::string termination_id;
  std::vector<int> connections_ports;
  bool fail_if_missing = false;
  std::string state_dir = k_default_state_dir;
};

// Returns the exit code: 0 flushed (or no endpoint with --if-missing ok), 1 gave up in time,
// 2 bad configuration. Always returns before --timeout has passed since `started`.
int run_drain_wait(const DrainWaitOptions& options, const Environment& environment, const Logger& logger,
                   Clock::time_point started = Clock::now());

} // namespace lameduck
