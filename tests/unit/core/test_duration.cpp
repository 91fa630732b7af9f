#include "lameduck/core/duration.hpp"

#include <doctest/doctest.h>

using namespace std::chrono_literals;
using lameduck::Duration;
using lameduck::format_duration;
using lameduck::parse_duration;

TEST_CASE("parse_duration") {
  SUBCASE("Go units and compounds") {
    CHECK(parse_duration("250ms").value() == 250ms);
    CHECK(parse_duration("30s").value() == 30s);
    CHECK(parse_duration("1m30s").value() == 90s);
    CHECK(parse_duration("2h").value() == 2h);
    CHECK(parse_duration("1h2m3s4ms5us6ns").value() == 1h + 2min + 3s + 4ms + 5us + 6ns);
    CHECK(parse_duration("3\u00b5s").value() == 3us);
    CHECK(parse_duration("3\u03bcs").value() == 3us);
  }
  SUBCASE("fractions") {
    CHECK(parse_duration("1.5s").value() == 1500ms);
    CHECK(parse_duration(".5s").value() == 500ms);
    CHECK(parse_duration("1.s").value() == 1s);
    CHECK(parse_duration("0.1ms").value() == 100us);
    CHECK(parse_duration("1.000000001s").value() == Duration{1'000'000'001});
  }
  SUBCASE("a bare integer is seconds") {
    CHECK(parse_duration("30").value() == 30s);
    CHECK(parse_duration("0").value() == 0s);
  }
  SUBCASE("signs") {
    CHECK(parse_duration("-1s").value() == -1s);
    CHECK(parse_duration("+2s").value() == 2s);
    CHECK(parse_duration("-0").value() == 0s);
  }
  SUBCASE("errors name what is wrong") {
    CHECK(parse_duration("").error().message ==
          "invalid duration \"\": use a number and a unit, like 250ms, 30s, 1m30s or 2h");
    CHECK(parse_duration("xd").error().message ==
          "invalid duration \"xd\": use a number and a unit, like 250ms, 30s, 1m30s or 2h");
    CHECK(parse_duration("1d").error().message ==
          "unknown unit \"d\" in duration \"1d\": use ns, us, ms, s, m or h");
    CHECK(parse_duration("1.5").error().message ==
          "missing unit in duration \"1.5\": write 30s, not 30.5; a bare number means seconds only when whole");
    CHECK_FALSE(parse_duration(".s"));
    CHECK_FALSE(parse_duration("-"));
    CHECK_FALSE(parse_duration("1s 2s"));
    CHECK_FALSE(parse_duration("s"));
  }
  SUBCASE("overflow is an error, not a wrap") {
    CHECK_FALSE(parse_duration("9999999999999999999h"));
    CHECK_FALSE(parse_duration("2562048h"));
    CHECK(parse_duration("2562047h").value() == 2562047h);
    CHECK_FALSE(parse_duration("9223372036854775807ns1ns"));
    CHECK_FALSE(parse_duration("99999999999999999999"));
  }
}

TEST_CASE("format_duration") {
  SUBCASE("like Go's Duration.String") {
    CHECK(format_duration(0s) == "0s");
    CHECK(format_duration(1ns) == "1ns");
    CHECK(format_duration(1500ns) == "1.5\u00b5s");
    CHECK(format_duration(250ms) == "250ms");
    CHECK(format_duration(1500ms) == "1.5s");
    CHECK(format_duration(30s) == "30s");
    CHECK(format_duration(90s) == "1m30s");
    CHECK(format_duration(2h) == "2h0m0s");
    CHECK(format_duration(-1500ms) == "-1.5s");
    CHECK(format_duration(Duration::min()) == "-2562047h47m16.854775808s");
  }
  SUBCASE("round-trips through parse_duration") {
    for (const Duration value : {Duration{1}, Duration{999}, Duration{123'456'789}, Duration{90s}, Duration{-3h}}) {
      CHECK(parse_duration(format_duration(value)).value() == value);
    }
  }
}

TEST_CASE("parse_duration refuses bare seconds beyond what nanoseconds hold (found by fuzzing)") {
  CHECK_FALSE(lameduck::parse_duration("9999999999"));
  CHECK(lameduck::parse_duration("9223372036").value() == std::chrono::seconds{9223372036});
}
