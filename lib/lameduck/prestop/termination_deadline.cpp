#include "lameduck/prestop/termination_deadline.hpp"

#include <algorithm>

namespace lameduck {

TerminationDeadline termination_deadline(const TerminationClocks& started, Duration grace_period, Duration margin,
                                         std::optional<WallClock::time_point> deletion_timestamp) {
  Duration budget = grace_period - margin;
  std::string source = "grace-period";
  if (deletion_timestamp) {
    // The wall clock only translates the timestamp into time left; the deadline itself lives on
    // the steady clock, so a clock step while we wait changes nothing.
    const auto until_kill = std::chrono::duration_cast<Duration>(*deletion_timestamp - started.wall);
    if (until_kill - margin < budget) {
      budget = until_kill - margin;
      source = "deletionTimestamp";
    }
  }
  budget = std::max(budget, Duration::zero());
  return {Deadline::after(budget, started.steady), budget, source};
}

} // namespace lameduck
