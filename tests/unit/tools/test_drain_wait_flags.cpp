#include "cli/drain_wait_flags.hpp"

#include "support/flag_parse.hpp"

#include <doctest/doctest.h>

using namespace std::chrono_literals;
using lameduck::DrainWaitOptions;
using lameduck::cli::parse_drain_wait_flags;
using lameduck::test::parse_flags;

TEST_CASE("parse_drain_wait_flags") {
  SUBCASE("the values given, and the defaults") {
    DrainWaitOptions options;
    const auto parsed = parse_flags(parse_drain_wait_flags, "drain-wait",
                                    {"--drain-url", "http://127.0.0.1/d", "--timeout", "25s", "--connections-port",
                                     "8080", "--if-missing", "fail"},
                                    options);
    CHECK_FALSE(parsed.exit_code);
    CHECK(options.timeout == 25s);
    CHECK(options.drain.connections_ports == std::vector<int>{8080});
    CHECK(options.drain.fail_if_missing);
    CHECK(options.drain.poll_interval == 100ms);
    CHECK(options.state_dir == "/tmp/lameduck");
  }
  SUBCASE("every bad value exits 2, naming its flag") {
    const std::vector<std::pair<std::vector<std::string>, std::string>> cases{
        {{}, "--drain-url"},
        {{"--drain-url", "localhost:80/drain"}, "--drain-url"},
        {{"--drain-url", "http://127.0.0.1/d", "--status-url", "nope"}, "--status-url"},
        {{"--drain-url", "http://127.0.0.1/d", "--timeout", "forever"}, "--timeout"},
        {{"--drain-url", "http://127.0.0.1/d", "--poll-interval", "-5ms"}, "--poll-interval"},
        {{"--drain-url", "http://127.0.0.1/d", "--connections-port", "70000"}, "--connections-port"},
        {{"--drain-url", "http://127.0.0.1/d", "--if-missing", "maybe"}, "--if-missing"},
    };
    for (const auto& [arguments, named] : cases) {
      CAPTURE(named);
      DrainWaitOptions options;
      const auto parsed = parse_flags(parse_drain_wait_flags, "drain-wait", arguments, options);
      CHECK(parsed.exit_code == 2);
      CHECK(parsed.err.find(named) != std::string::npos);
    }
  }
}
