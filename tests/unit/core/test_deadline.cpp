#include "lameduck/core/deadline.hpp"

#include "support/timing.hpp"

#include <doctest/doctest.h>

using namespace std::chrono_literals;
using lameduck::test::k_scheduling_slack;
using lameduck::Clock;
using lameduck::Deadline;

TEST_CASE("Deadline") {
  const auto now = Clock::now();
  const auto deadline = Deadline::after(10s, now);

  SUBCASE("remaining counts down and never goes negative") {
    CHECK(deadline.remaining(now) == 10s);
    CHECK(deadline.remaining(now + 4s) == 6s);
    CHECK(deadline.remaining(now + 11s) == 0s);
    CHECK_FALSE(deadline.expired(now + 9s));
    CHECK(deadline.expired(now + 10s));
  }
  SUBCASE("cap bounds one attempt by what is left") {
    CHECK(deadline.cap(2s, now) == 2s);
    CHECK(deadline.cap(2s, now + 9s) == 1s);
    CHECK(deadline.cap(2s, now + 20s) == 0s);
  }
  SUBCASE("within gives a sub-deadline never later than the whole") {
    CHECK(deadline.within(3s, now).when() == now + 3s);
    CHECK(deadline.within(30s, now).when() == now + 10s);
  }
}

TEST_CASE("sleep_within") {
  SUBCASE("an expired deadline returns at once and says it was cut short") {
    const auto past = Deadline::at(Clock::now() - 1s);
    const auto started = Clock::now();
    CHECK_FALSE(lameduck::sleep_within(10s, past));
    CHECK(Clock::now() - started < k_scheduling_slack);
  }
  SUBCASE("a sleep that fits reports true") {
    CHECK(lameduck::sleep_within(1ms, Deadline::after(10s)));
  }
}
