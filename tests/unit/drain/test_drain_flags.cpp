#include "lameduck/drain/drain_flags.hpp"

#include <doctest/doctest.h>

using namespace std::chrono_literals;
using lameduck::drain_client_options;
using lameduck::DrainFlags;

TEST_CASE("drain_client_options") {
  DrainFlags flags;
  flags.drain_url = "http://127.0.0.1:8080/drain";

  SUBCASE("the defaults both tools share: status at the drain URL, every 100 ms, no ports") {
    const auto options = drain_client_options(flags, "uid-1").value();
    CHECK(options.drain_url.text() == "http://127.0.0.1:8080/drain");
    CHECK_FALSE(options.status_url);
    CHECK(options.termination_id == "uid-1");
    CHECK(options.poll_interval == 100ms);
    CHECK(options.connections_ports.empty());
    CHECK_FALSE(options.fail_if_missing);
  }
  SUBCASE("every flag carried over") {
    flags.status_url = "http://127.0.0.1:8080/drain/status";
    flags.poll_interval = 250ms;
    flags.connections_ports = {8080, 9090};
    flags.fail_if_missing = true;
    const auto options = drain_client_options(flags, "uid-1").value();
    CHECK(options.status_url->text() == "http://127.0.0.1:8080/drain/status");
    CHECK(options.poll_interval == 250ms);
    CHECK(options.connections_ports == std::vector<int>{8080, 9090});
    CHECK(options.fail_if_missing);
  }
  SUBCASE("a bad value is an error naming its flag, never dropped") {
    flags.status_url = "ftp://127.0.0.1/status";
    const auto bad_status = drain_client_options(flags, "uid-1");
    REQUIRE_FALSE(bad_status);
    CHECK(bad_status.error().message.rfind("--status-url: ", 0) == 0);
    flags.status_url.clear();
    flags.drain_url = "127.0.0.1:8080/drain";
    const auto bad_drain = drain_client_options(flags, "uid-1");
    REQUIRE_FALSE(bad_drain);
    CHECK(bad_drain.error().message.rfind("--drain-url: ", 0) == 0);
  }
}
