#include "cli/prestop_flags.hpp"

#include "support/flag_parse.hpp"

#include <doctest/doctest.h>

using namespace std::chrono_literals;
using lameduck::PrestopOptions;
using lameduck::cli::parse_prestop_flags;
using lameduck::test::parse_flags;

TEST_CASE("parse_prestop_flags") {
  PrestopOptions options;

  SUBCASE("the values given, and the defaults") {
    const auto parsed = parse_flags(parse_prestop_flags, "prestop",
                                    {"--grace-period", "45s", "--service", "a", "--service", "b", "--drain-url",
                                     "http://127.0.0.1:8080/drain", "--endpoints-timeout", "10s"},
                                    options);
    CHECK_FALSE(parsed.exit_code);
    CHECK(options.grace_period == 45s);
    CHECK(options.services == std::vector<std::string>{"a", "b"});
    CHECK(options.drain.drain_url == "http://127.0.0.1:8080/drain");
    CHECK(options.endpoints_timeout == 10s);
    CHECK(options.margin == 3s);
    CHECK(options.drain.poll_interval == 100ms);
    CHECK(options.state_dir == "/tmp/lameduck");
    CHECK(options.until_quiet == 1s);
    CHECK(options.quiet_ports.empty());
    CHECK_FALSE(options.quiet_timeout);
  }
  SUBCASE("drain steps: --drain-url and --drain-step in the order written, the first URL the agent's") {
    const auto parsed = parse_flags(parse_prestop_flags, "prestop",
                                    {"--drain-step", "signal:nginx:QUIT@10s", "--drain-url", "http://127.0.0.1:8080/drain",
                                     "--drain-step", "exec:/bin/flush,--now", "--drain-url",
                                     "http://127.0.0.1:9000/drain", "--hold-until-drained"},
                                    options);
    CHECK_FALSE(parsed.exit_code);
    REQUIRE(options.drain_steps.size() == 4);
    CHECK(options.drain_steps[0].process_name == "nginx");
    CHECK(options.drain_steps[1].url == "http://127.0.0.1:8080/drain");
    CHECK(options.drain_steps[2].argv == std::vector<std::string>{"/bin/flush", "--now"});
    CHECK(options.drain_steps[3].url == "http://127.0.0.1:9000/drain");
    CHECK(options.drain.drain_url == "http://127.0.0.1:8080/drain");
    CHECK(options.hold_until_drained);
  }
  SUBCASE("a bad drain step exits 2 naming the flag") {
    const auto parsed = parse_flags(parse_prestop_flags, "prestop", {"--drain-step", "signal:nginx:KILL"}, options);
    CHECK(parsed.exit_code == 2);
    CHECK(parsed.err.find("--drain-step") != std::string::npos);
    CHECK(parsed.err.find("unknown signal \"KILL\"") != std::string::npos);
  }
  SUBCASE("the quiet phase's flags") {
    const auto parsed = parse_flags(parse_prestop_flags, "prestop",
                                    {"--until-quiet", "2s", "--quiet-port", "8080", "--quiet-port", "9090,9091",
                                     "--quiet-timeout", "1m"},
                                    options);
    CHECK_FALSE(parsed.exit_code);
    CHECK(options.until_quiet == 2s);
    CHECK(options.quiet_ports == std::vector<int>{8080, 9090, 9091});
    CHECK(options.quiet_timeout == 60s);
  }
  SUBCASE("every bad value exits 2, naming its flag") {
    for (const auto& [flag, value] : std::vector<std::pair<std::string, std::string>>{
             {"--grace-period", "soon"}, {"--margin", "-1s"}, {"--readyz-url", "nope"}, {"--endpoints-timeout", "x"},
             {"--connections-port", "0"}, {"--if-missing", "maybe"}, {"--kube-api", "ftp://x"},
             {"--etcd-endpoint", "ftp://x"}, {"--deregister-method", "FOO"}, {"--deregister-url", "nope"},
             {"--notify-url", "nope"}, {"--deregister-timeout", "x"}, {"--status-url", "nope"},
             {"--poll-interval", "-5ms"}, {"--min-delay", "later"}, {"--fallback-delay", "x"},
             {"--until-quiet", "-1s"}, {"--quiet-port", "70000"}, {"--quiet-port", "http"}, {"--quiet-timeout", "x"}}) {
      CAPTURE(flag);
      PrestopOptions fresh;
      const auto parsed = parse_flags(parse_prestop_flags, "prestop", {flag, value}, fresh);
      CHECK(parsed.exit_code == 2);
      CHECK(parsed.err.find(flag) != std::string::npos);
      CHECK(parsed.err.rfind("prestop: error: ", 0) == 0);
    }
  }
  SUBCASE("--help goes to stdout and exits 0") {
    const auto parsed = parse_flags(parse_prestop_flags, "prestop", {"--help"}, options);
    CHECK(parsed.exit_code == 0);
    CHECK(parsed.out.find("--grace-period") != std::string::npos);
    CHECK(parsed.err.empty());
  }
}
