#pragma once

// When prestop must be out: start + grace period - margin, or earlier when the pod's
// deletionTimestamp says the kubelet will kill it sooner (a shortened
// `kubectl delete --grace-period`, a node shutdown). Fixed once, at start.

#include "lameduck/core/deadline.hpp"
#include "lameduck/core/rfc3339.hpp"

#include <optional>
#include <string>

namespace lameduck {

struct TerminationDeadline {
  Deadline deadline;
  Duration budget;    // from start to the deadline, never negative
  std::string source; // "grace-period" or "deletionTimestamp"
};

struct TerminationClocks {
  Clock::time_point steady;   // start, on the clock every wait uses
  WallClock::time_point wall; // the same instant on the wall clock the API's timestamps use
};

TerminationDeadline termination_deadline(const TerminationClocks& started, Duration grace_period, Duration margin,
                                         std::optional<WallClock::time_point> deletion_timestamp);

} // namespace lameduck
