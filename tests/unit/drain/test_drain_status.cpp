#include "lameduck/drain/drain_status.hpp"

#include <doctest/doctest.h>

using lameduck::DrainState;
using lameduck::parse_drain_status;

TEST_CASE("parse_drain_status") {
  const auto status = parse_drain_status(R"({"state":"draining","inflight":3})");
  REQUIRE(status);
  CHECK(status->state == DrainState::draining);
  CHECK(status->inflight == 3);
  CHECK(parse_drain_status(lameduck::drain_status_json(*status)).value() == *status);
  CHECK(parse_drain_status(R"({"state":"flushed"})")->state == DrainState::flushed);

  CHECK(parse_drain_status("<html>").error().message == "the status is not a JSON object");
  CHECK(parse_drain_status(R"({"state":7})").error().message == R"("state" is missing or not a string)");
  CHECK(parse_drain_status(R"({"state":"done"})").error().message == R"(unknown state "done")");
  CHECK(parse_drain_status(R"({"state":"draining","inflight":-1})").error().message ==
        R"("inflight" is not a non-negative integer)");
  CHECK_FALSE(parse_drain_status(R"({"state":"draining","inflight":"2"})"));
  CHECK_FALSE(parse_drain_status(""));
}
