#include "lameduck/prestop/phase_plan.hpp"

#include <doctest/doctest.h>

using namespace std::chrono_literals;
using lameduck::plan_phases;
using lameduck::PrestopOptions;

TEST_CASE("plan_phases") {
  PrestopOptions options;
  options.drain.drain_url = "http://127.0.0.1:8080/drain";

  SUBCASE("the endpoints phase may use half the budget, the quiet phase half the rest; the drain keeps the rest") {
    const auto plan = plan_phases(27s, options);
    CHECK(plan.readiness == 1s);
    CHECK(plan.endpoints == 13500ms);
    CHECK(plan.quiet == 5250ms);  // (27 - 1 - 13.5 - 2 (min-delay)) / 2
    CHECK(plan.drain == 5250ms);
  }
  SUBCASE("--endpoints-timeout and --quiet-timeout set the caps") {
    options.endpoints_timeout = 5s;
    options.quiet_timeout = 3s;
    const auto plan = plan_phases(27s, options);
    CHECK(plan.endpoints == 5s);
    CHECK(plan.quiet == 3s);
    CHECK(plan.drain == 16s);
  }
  SUBCASE("--until-quiet 0: no quiet phase, --min-delay alone") {
    options.until_quiet = 0s;
    const auto plan = plan_phases(27s, options);
    CHECK(plan.quiet == 0s);
    CHECK(plan.drain == 10500ms); // 27 - 1 - 13.5 - 2 (min-delay)
  }
  SUBCASE("caps never add up past the budget") {
    options.endpoints_timeout = 60s;
    const auto plan = plan_phases(2s, options);
    CHECK(plan.readiness == 1s);
    CHECK(plan.endpoints == 1s);
    CHECK(plan.drain == 0s);
  }
  SUBCASE("skipped phases take nothing") {
    options.readyz_url.clear();
    options.drain.drain_url.clear();
    const auto plan = plan_phases(10s, options);
    CHECK(plan.readiness == 0s);
    CHECK(plan.drain == 0s);
  }
  SUBCASE("no budget at all") {
    const auto plan = plan_phases(-1s, options);
    CHECK(plan.budget == 0s);
    CHECK(plan.endpoints == 0s);
  }
}

TEST_CASE("describe_plan") {
  PrestopOptions options;
  options.services = {"ledger-agent", "ledger-agent-grpc"};
  options.drain.drain_url = "http://127.0.0.1:8080/drain";
  options.event = true;
  const std::string text = describe_plan(plan_phases(27s, options), options, "grace-period");
  CHECK(text ==
        "prestop plan: deadline 27s after start (30s grace period - 3s margin; an earlier deletionTimestamp shortens it)\n"
        "  1 readiness  up to 1s: POST http://127.0.0.1:7979/readyz/disable\n"
        "  2 endpoints  up to 13.5s: watch the slices of services ledger-agent, ledger-agent-grpc until this pod is "
        "not ready; without the API, 10s instead\n"
        "  2b quiet     2s (--min-delay), then up to 5.25s more: until the pod's containerPorts had no new connection "
        "and no new byte for 1s\n"
        "  3 drain      at least 5.25s: POST http://127.0.0.1:8080/drain, then wait until the agent reports flushed\n"
        "  4 report     summary to stderr, /proc/1/fd/1 and /dev/termination-log, and an Event on the pod\n");

  options.until_quiet = 0s;
  options.quiet_ports = {8080};
  const std::string without = describe_plan(plan_phases(27s, options), options, "grace-period");
  CHECK(without.find("until this pod is not ready, then 2s for consumers; without the API, 10s instead\n") !=
        std::string::npos);
  CHECK(without.find("2b quiet") == std::string::npos);
  options.until_quiet = 500ms;
  CHECK(describe_plan(plan_phases(27s, options), options, "grace-period").find("until port 8080 had no new") !=
        std::string::npos);
}

TEST_CASE("the deregister phase's share") {
  PrestopOptions options;
  options.drain.drain_url = "http://127.0.0.1:8080/drain";
  options.deregistration.etcd = {.endpoints = {"http://etcd:2379"}, .keys = {}, .lease_keys = {"services/agent/a"}};
  options.deregistration.http.url = "http://127.0.0.1:8500/v1/agent/service/deregister/a";
  options.notify_url = "http://control-plane/terminations";
  const auto plan = plan_phases(27s, options);
  CHECK(plan.deregister == 5s); // --deregister-timeout
  CHECK(plan.endpoints == 11s); // half of what deregistration leaves
  CHECK(plan.drain == 4s);      // (27 - 1 - 5 - 11 - 2 (min-delay)) / 2, the quiet phase has the other half
  const std::string text = describe_plan(plan, options, "grace-period");
  CHECK(text.find("  1b deregister up to 5s: etcd: revoke the lease at 1 key(s), delete 0 key(s); PUT "
                  "http://127.0.0.1:8500/v1/agent/service/deregister/a\n") != std::string::npos);
  CHECK(text.find("; POST it to http://control-plane/terminations\n") != std::string::npos);

  options.deregister_timeout = 60s; // never more than half of the budget
  CHECK(plan_phases(27s, options).deregister == 13s);
  options.deregistration = {};
  CHECK(plan_phases(27s, options).deregister == 0s);
}
