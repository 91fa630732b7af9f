#pragma once

// RFC 3339 timestamps, as Kubernetes writes them ("2026-11-23T10:02:41Z", whole seconds in
// object metadata) and as the drain protocol sends its deadline (with milliseconds).

#include "lameduck/core/expected.hpp"

#include <chrono>
#include <string>
#include <string_view>

namespace lameduck {

using WallClock = std::chrono::system_clock;

// Accepts "Z" or a numeric offset, with or without a fraction of a second.
Expected<WallClock::time_point> parse_rfc3339(std::string_view text);

// UTC with milliseconds: "2026-11-23T10:02:41.123Z".
std::string format_rfc3339(WallClock::time_point when);

} // namespace lameduck
