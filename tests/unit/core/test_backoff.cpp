#include "lameduck/core/backoff.hpp"

#include "support/timing.hpp"

#include <doctest/doctest.h>

using namespace std::chrono_literals;
using lameduck::Backoff;
using lameduck::Clock;
using lameduck::Deadline;
using lameduck::Duration;
using lameduck::test::k_scheduling_slack;

namespace {

// A pause is the step plus up to 20% of it.
bool jittered(Duration pause, Duration step) {
  return pause >= step && pause <= step * 1.2;
}

} // namespace

TEST_CASE("Backoff") {
  Backoff backoff({.first = 100ms, .max = 500ms});

  SUBCASE("doubles from the first pause up to the max, with jitter") {
    CHECK(jittered(backoff.next(), 100ms));
    CHECK(jittered(backoff.next(), 200ms));
    CHECK(jittered(backoff.next(), 400ms));
    CHECK(jittered(backoff.next(), 500ms));
    CHECK(jittered(backoff.next(), 500ms));
  }
  SUBCASE("a longer Retry-After wins; a shorter one does not shorten the pause") {
    CHECK(backoff.next(3s) == 3s);
    CHECK(jittered(backoff.next(1ms), 200ms));
  }
  SUBCASE("reset starts again from the first pause") {
    backoff.next();
    backoff.next();
    backoff.reset();
    CHECK(jittered(backoff.next(), 100ms));
  }
  SUBCASE("a pause that would not end before the deadline is not taken, nor slept") {
    CHECK_FALSE(backoff.next_within(Deadline::after(50ms)));
    const auto started = Clock::now();
    CHECK_FALSE(backoff.wait(Deadline::after(150ms), 2s));
    CHECK(Clock::now() - started < k_scheduling_slack);
  }
  SUBCASE("one that fits is slept in full") {
    const auto started = Clock::now();
    CHECK(backoff.wait(Deadline::after(10s)));
    CHECK(Clock::now() - started >= 100ms);
  }
}
