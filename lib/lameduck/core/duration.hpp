#pragma once

// Durations in the Kubernetes/Go syntax (time.ParseDuration): "250ms", "30s", "1m30s", "2h",
// "1.5s"; a bare integer is seconds, as users write it in YAML.

#include "lameduck/core/expected.hpp"

#include <chrono>
#include <string>
#include <string_view>

namespace lameduck {

using Duration = std::chrono::nanoseconds;

// Accepts Go's grammar, signs included, plus a bare integer as seconds.
Expected<Duration> parse_duration(std::string_view text);

// Prints like Go's Duration.String(): "1m30s", "250ms", "1.5s", "0s".
std::string format_duration(Duration duration);

// Whole milliseconds, the unit of logs and of the drain protocol.
inline long long to_ms(Duration duration) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(duration).count();
}

} // namespace lameduck
