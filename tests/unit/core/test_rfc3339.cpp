#include "lameduck/core/rfc3339.hpp"

#include <doctest/doctest.h>

using namespace std::chrono_literals;
using lameduck::format_rfc3339;
using lameduck::parse_rfc3339;
using lameduck::WallClock;

namespace {

// 2026-11-23T10:02:41Z
const WallClock::time_point k_deletion{std::chrono::sys_days{std::chrono::November / 23 / 2026} + 10h + 2min + 41s};

} // namespace

TEST_CASE("parse_rfc3339") {
  SUBCASE("Kubernetes metadata timestamps, whole seconds in UTC") {
    CHECK(parse_rfc3339("2026-11-23T10:02:41Z").value() == k_deletion);
  }
  SUBCASE("fractions and offsets") {
    CHECK(parse_rfc3339("2026-11-23T10:02:41.250Z").value() == k_deletion + 250ms);
    CHECK(parse_rfc3339("2026-11-23T11:02:41+01:00").value() == k_deletion);
    CHECK(parse_rfc3339("2026-11-23T09:32:41-00:30").value() == k_deletion);
    CHECK(parse_rfc3339("2026-11-23t10:02:41.000000001z").value() == k_deletion + 1ns);
  }
  SUBCASE("errors name the value") {
    CHECK(parse_rfc3339("yesterday").error().message ==
          "invalid RFC 3339 timestamp \"yesterday\": expected 2026-11-23T10:02:41Z");
    CHECK_FALSE(parse_rfc3339("2026-11-23T10:02:41"));
    CHECK_FALSE(parse_rfc3339("2026-02-30T10:02:41Z"));
    CHECK_FALSE(parse_rfc3339("2026-11-23T24:00:00Z"));
    CHECK_FALSE(parse_rfc3339("2026-11-23T10:02:41.Z"));
    CHECK_FALSE(parse_rfc3339("2026-11-23T10:02:41Zjunk"));
    CHECK_FALSE(parse_rfc3339(""));
  }
}

TEST_CASE("format_rfc3339") {
  CHECK(format_rfc3339(k_deletion + 123ms) == "2026-11-23T10:02:41.123Z");
  CHECK(format_rfc3339(k_deletion) == "2026-11-23T10:02:41.000Z");
  CHECK(parse_rfc3339(format_rfc3339(k_deletion + 7ms)).value() == k_deletion + 7ms);
}
