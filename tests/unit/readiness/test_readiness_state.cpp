#include "lameduck/readiness/readiness_state.hpp"

#include "lameduck/core/durable_file.hpp"
#include "support/temp_dir.hpp"

#include <doctest/doctest.h>

#include <vector>

using lameduck::parse_readiness_state;
using lameduck::ReadinessSwitch;
using lameduck::test::TempDir;

TEST_CASE("ReadinessSwitch") {
  const TempDir dir;
  const std::string state_file = dir.file("readiness.json");

  SUBCASE("starts as --start says when there is no state file") {
    CHECK(ReadinessSwitch("", true).current().ready);
    CHECK_FALSE(ReadinessSwitch("", false).current().ready);
    CHECK(ReadinessSwitch(state_file, true).current().ready);
  }
  SUBCASE("a flip reports whether it changed anything") {
    ReadinessSwitch readiness("", true);
    const auto off = readiness.set(false, "disabled by prestop");
    CHECK(off.changed);
    CHECK_FALSE(off.state.ready);
    CHECK(off.state.reason == "disabled by prestop");
    const auto again = readiness.set(false, "disabled by prestop");
    CHECK_FALSE(again.changed);
    CHECK(again.state.since == off.state.since);
  }
  SUBCASE("the state file carries the switch across a restart, whatever --start says") {
    ReadinessSwitch(state_file, true).set(false, "disabled by prestop");
    const ReadinessSwitch restarted(state_file, true);
    CHECK_FALSE(restarted.current().ready);
    CHECK(restarted.current().reason == "disabled by prestop");
    CHECK(restarted.load_problem().empty());
  }
  SUBCASE("a corrupt state file starts not ready and says why") {
    for (const std::string& corrupt : std::vector<std::string>{"", "{", "[]", R"({"ready":"yes"})", std::string("\0\xff", 2)}) {
      CAPTURE(corrupt);
      REQUIRE(lameduck::write_file_atomically(state_file, corrupt));
      const ReadinessSwitch readiness(state_file, true);
      CHECK_FALSE(readiness.current().ready);
      CHECK(readiness.load_problem().find(state_file) != std::string::npos);
    }
  }
  SUBCASE("a state file that cannot be written still flips the switch, and says so") {
    ReadinessSwitch readiness(dir.file("missing-dir/readiness.json"), true);
    const auto off = readiness.set(false, "disabled");
    CHECK_FALSE(off.state.ready);
    CHECK(off.save_error.has_value());
  }
}

TEST_CASE("parse_readiness_state") {
  const auto state = parse_readiness_state(R"({"ready":false,"reason":"r","since":"2026-11-23T10:00:00.000Z"})");
  REQUIRE(state);
  CHECK_FALSE(state->ready);
  CHECK(state->reason == "r");
  CHECK(state->since == "2026-11-23T10:00:00.000Z");
  CHECK(parse_readiness_state(lameduck::readiness_state_json(*state)).value() == *state);
  CHECK_FALSE(parse_readiness_state("{\"reason\":\"no ready field\"}"));
}
