#pragma once

// drain-wait's body, behind its thin main: the drain protocol's client with one --timeout.

#include "lameduck/core/environment.hpp"
#include "lameduck/core/log.hpp"
#include "lameduck/drain/drain_flags.hpp"
#include "lameduck/drain/termination_id.hpp"

#include <chrono>
#include <string>

namespace lameduck {

inline constexpr auto k_default_drain_timeout = std::chrono::seconds{30};

struct DrainWaitOptions {
  DrainFlags drain;
  Duration timeout = k_default_drain_timeout;
  std::string termination_id;
  std::string state_dir = k_default_state_dir;
};

// Returns the exit code: 0 flushed (or no endpoint with --if-missing ok), 1 gave up in time,
// 2 bad configuration. Always returns before --timeout has passed since `started`.
int run_drain_wait(const DrainWaitOptions& options, const Environment& environment, const Logger& logger,
                   Clock::time_point started = Clock::now());

} // namespace lameduck
