// A pod behind a load balancer that deregisters it seconds late, as cloud load balancers with
// IP targets do: --min-delay alone drains while the balancer still sends and fails requests;
// `preStop: sleep 30` fails none but always takes 30 s; prestop's quiet phase waits exactly as
// long as the balancer keeps sending, then --until-quiet more.

#include "sim/slow_balancer.hpp"
#include "support/temp_dir.hpp"
#include "support/timing.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <future>
#include <map>

using namespace std::chrono_literals;
using lameduck::Duration;
using lameduck::to_ms;
using lameduck::sim::BalancerOutcome;
using lameduck::sim::BalancerScenario;
using lameduck::sim::StopHook;
using lameduck::sim::summary_phase;

namespace {

using lameduck::test::k_scheduling_slack;
constexpr auto k_quiet = 1s;

std::string describe(const BalancerScenario& scenario, const BalancerOutcome& outcome) {
  std::string text = std::string(stop_hook_name(scenario.hook)) + ", balancer " +
                     std::to_string(to_ms(scenario.balancer_delay)) + " ms late: " + std::to_string(outcome.failed) +
                     " of " + std::to_string(outcome.sent) + " failed, agent exited after " +
                     std::to_string(to_ms(outcome.to_exit)) + " ms";
  for (const auto& failure : outcome.failures) {
    text += "\n  failed: " + failure;
  }
  for (const auto& line : outcome.prestop_log) {
    text += "\n  prestop: " + line;
  }
  return text;
}

// The scenarios run side by side, each on a simulated node of its own: they spend their time
// waiting, and one after another they would take minutes.
std::vector<BalancerOutcome> run_side_by_side(std::vector<BalancerScenario>& scenarios,
                                              const lameduck::test::TempDir& dir) {
  std::vector<std::future<BalancerOutcome>> running;
  for (std::size_t i = 0; i < scenarios.size(); ++i) {
    scenarios[i].state_dir = dir.file("scenario-" + std::to_string(i));
    running.push_back(std::async(std::launch::async, lameduck::sim::run_balancer_scenario, scenarios[i]));
  }
  std::vector<BalancerOutcome> outcomes;
  for (auto& outcome : running) {
    outcomes.push_back(outcome.get());
  }
  return outcomes;
}

} // namespace

TEST_CASE("a slow load balancer: the quiet phase waits for it, --min-delay alone does not, sleep 30 does slowly") {
  const lameduck::test::TempDir dir;
  std::vector<BalancerScenario> scenarios;
  for (const Duration late : {Duration{5s}, Duration{20s}}) {
    for (const StopHook hook : {StopHook::lameduck, StopHook::min_delay_only, StopHook::sleep_30}) {
      scenarios.push_back({.hook = hook, .balancer_delay = late, .quiet = k_quiet});
    }
  }
  const auto outcomes = run_side_by_side(scenarios, dir);

  for (std::size_t i = 0; i < scenarios.size(); ++i) {
    const auto& scenario = scenarios[i];
    const auto& outcome = outcomes[i];
    INFO(describe(scenario, outcome));
    CHECK(outcome.ending == "exited");
    switch (scenario.hook) {
    case StopHook::min_delay_only:
      // The drain began while the balancer still sent: 503 from the draining agent, then
      // refused connections once it had exited.
      CHECK(outcome.failed > 0);
      break;
    case StopHook::sleep_30:
      CHECK(outcome.failed == 0);
      CHECK(outcome.to_hook_exit >= 30s);
      CHECK(outcome.to_exit >= 30s);
      break;
    case StopHook::lameduck: {
      CHECK(outcome.failed == 0);
      const auto quiet = summary_phase(outcome.summary, "quiet");
      CHECK(quiet.value("outcome", "") == "done");
      CHECK(quiet.value("source", "") == "sock_diag");
      CHECK(quiet.contains("lastByteFrom"));
      // It measured the balancer: the phase ended --until-quiet after the last request the
      // balancer sent to this pod, not later. Late by at most the scheduling slack of the
      // sampler and of prestop itself on a loaded machine (under ASan it was 246 ms once).
      REQUIRE(outcome.quiet_after_last_request);
      CHECK(*outcome.quiet_after_last_request >= k_quiet - 10ms);
      CHECK(*outcome.quiet_after_last_request <= k_quiet + 2 * k_scheduling_slack);
      CHECK(outcome.to_hook_exit >= scenario.balancer_delay);
      CHECK(outcome.to_exit < scenario.balancer_delay + 5s);
      break;
    }
    }
  }
}

TEST_CASE("a load balancer later than the deadline: prestop says so, and the drain keeps its share") {
  const lameduck::test::TempDir dir;
  BalancerScenario scenario{.hook = StopHook::lameduck, .balancer_delay = 30s, .quiet = k_quiet, .grace_seconds = 15,
                            .state_dir = dir.file("late")};
  const auto outcome = lameduck::sim::run_balancer_scenario(scenario);
  INFO(describe(scenario, outcome));
  const auto quiet = summary_phase(outcome.summary, "quiet");
  CHECK(quiet.value("outcome", "") == "gave_up");
  CHECK(quiet.value("reason", "").find("consumers still sending") != std::string::npos);
  CHECK(quiet.value("verdict", "") == "busy");
  CHECK(summary_phase(outcome.summary, "drain").value("outcome", "") == "done");
  // Out before the grace period, and the agent stopped by SIGTERM, not SIGKILL.
  CHECK(outcome.to_hook_exit < 15s);
  CHECK(outcome.ending == "exited");
}

TEST_CASE("low traffic: the quiet phase ends --until-quiet after the last request, not later") {
  const lameduck::test::TempDir dir;
  // One request every 3 s through a kube-proxy that applies changes 300 ms late; no floor, so
  // that the phase shows what --until-quiet alone does.
  BalancerScenario scenario{.hook = StopHook::lameduck, .balancer_delay = 300ms, .quiet = k_quiet,
                            .min_delay = 0s, .load_interval = 3s, .warm_requests = 1,
                            .state_dir = dir.file("low")};
  const auto outcome = lameduck::sim::run_balancer_scenario(scenario);
  INFO(describe(scenario, outcome));
  CHECK(outcome.failed == 0);
  const auto quiet = summary_phase(outcome.summary, "quiet");
  CHECK(quiet.value("outcome", "") == "done");
  // Nothing came, or one request within the balancer's 300 ms: Q after the phase began or after it.
  CHECK(quiet.value("ms", 0LL) >= to_ms(k_quiet) - 10);
  CHECK(quiet.value("ms", 0LL) <= to_ms(k_quiet + 300ms + 200ms));
}

TEST_CASE("sock_diag refused (a seccomp profile): the quiet phase reads /proc/net/tcp and says so") {
  const lameduck::test::TempDir dir;
  BalancerScenario scenario{.hook = StopHook::lameduck, .balancer_delay = 300ms, .quiet = k_quiet,
                            .deny_netlink = true, .state_dir = dir.file("no-netlink")};
  const auto outcome = lameduck::sim::run_balancer_scenario(scenario);
  INFO(describe(scenario, outcome));
  const auto quiet = summary_phase(outcome.summary, "quiet");
  CHECK(quiet.value("outcome", "") == "done");
  CHECK(quiet.value("source", "") == "proc");
  const auto fallback = std::find_if(outcome.prestop_log.begin(), outcome.prestop_log.end(), [](const std::string& line) {
    return line.find("\"quiet.fallback\"") != std::string::npos && line.find("Permission denied") != std::string::npos;
  });
  CHECK(fallback != outcome.prestop_log.end());
  // New connections only, so the floor is what guards the kept-alive ones; a balancer 300 ms
  // late is within it.
  CHECK(quiet.value("ms", 0LL) >= to_ms(scenario.min_delay) - 10);
  CHECK(outcome.failed == 0);
}
