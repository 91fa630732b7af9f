#pragma once

// `readyz-toggle install DIR`: the toolkit image has no shell and no cp, so an init container
// runs this to put the three tools on a volume the agent's container mounts.

#include "lameduck/core/expected.hpp"

#include <array>
#include <string>
#include <vector>

namespace lameduck {

inline constexpr std::array<const char*, 3> k_tool_names{"prestop", "readyz-toggle", "drain-wait"};

// The directory this executable was started from (via /proc/self/exe).
Expected<std::string> own_directory();

// Copies each tool from `from` into `to` (created when missing) with mode 0755, each through
// a temporary file and a rename, so a container starting beside it never sees half a binary.
// Running it again changes nothing. Returns the paths written.
Expected<std::vector<std::string>> install_tools(const std::string& from, const std::string& to);

} // namespace lameduck
