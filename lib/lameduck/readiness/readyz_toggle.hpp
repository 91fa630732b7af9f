#pragma once

// readyz-toggle's commands, behind its thin main: serve, off/on/status, install.

#include "lameduck/core/log.hpp"
#include "lameduck/readiness/readiness_client.hpp"
#include "lameduck/readiness/readiness_server.hpp"

#include <string>

namespace lameduck {

struct ReadyzToggleOptions {
  enum class Command { serve, disable, enable, status, install };
  Command command = Command::serve;
  ReadinessServerOptions serve;
  // off, on, status
  std::string url = k_default_readyz_url;
  Duration timeout = k_default_switch_timeout;
  std::string reason; // empty: says which command flipped it
  // install
  std::string install_dir;
};

// Returns the exit code.
int run_readyz_toggle(const ReadyzToggleOptions& options, const Logger& logger);

} // namespace lameduck
