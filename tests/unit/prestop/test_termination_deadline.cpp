#include "lameduck/prestop/termination_deadline.hpp"

#include <doctest/doctest.h>

using namespace std::chrono_literals;
using lameduck::termination_deadline;
using lameduck::TerminationClocks;

TEST_CASE("termination_deadline") {
  const TerminationClocks started{lameduck::Clock::now(), lameduck::WallClock::now()};

  SUBCASE("start + grace period - margin without a deletionTimestamp") {
    const auto result = termination_deadline(started, 30s, 3s, std::nullopt);
    CHECK(result.budget == 27s);
    CHECK(result.deadline.when() == started.steady + 27s);
    CHECK(result.source == "grace-period");
  }
  SUBCASE("a shortened deletion wins") {
    const auto result = termination_deadline(started, 30s, 3s, started.wall + 5s);
    CHECK(result.budget == 2s);
    CHECK(result.deadline.when() == started.steady + 2s);
    CHECK(result.source == "deletionTimestamp");
  }
  SUBCASE("a later deletionTimestamp does not extend the grace period") {
    const auto result = termination_deadline(started, 30s, 3s, started.wall + 60s);
    CHECK(result.budget == 27s);
    CHECK(result.source == "grace-period");
  }
  SUBCASE("no time left is zero, not negative") {
    CHECK(termination_deadline(started, 2s, 3s, std::nullopt).budget == 0s);
    CHECK(termination_deadline(started, 30s, 3s, started.wall - 10s).budget == 0s);
  }
}
