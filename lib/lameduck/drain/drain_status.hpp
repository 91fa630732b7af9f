#pragma once

// Drain protocol v1, the part both sides share: the states an agent reports and the JSON of
// its status answer, {"state":"accepting"|"draining"|"flushed","inflight":N}.

#include "lameduck/core/expected.hpp"

#include <string>
#include <string_view>

namespace lameduck {

enum class DrainState { accepting, draining, flushed };

struct DrainStatus {
  DrainState state = DrainState::accepting;
  long long inflight = 0;

  bool operator==(const DrainStatus&) const = default;
};

std::string_view drain_state_name(DrainState state);
std::string drain_status_json(const DrainStatus& status);
// Anything but that shape (not JSON, an unknown state, a negative or non-integer inflight)
// is an error saying what is wrong.
Expected<DrainStatus> parse_drain_status(std::string_view text);

} // namespace lameduck
