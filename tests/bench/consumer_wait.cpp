// How long a pod takes to stop behind a load balancer that deregisters it late, and what that
// costs in failed requests: prestop with its quiet phase (--until-quiet 1s, --min-delay 2s as
// the floor), prestop with --min-delay 2s alone, and `preStop: sleep 30`, for a balancer 5 s and
// 20 s late. All six run side by side in one run on the simulated node (three agent pods, a
// balancer with IP targets and kept-alive connections, 20 requests/s through it).
// Prints a table and writes consumers.json to the output directory.
//
//   consumer-wait [OUTPUT_DIR]      (./dev bench)

#include "sim/slow_balancer.hpp"
#include "support/temp_dir.hpp"

#include <cstdio>
#include <fstream>
#include <future>

using namespace std::chrono_literals;
using namespace lameduck;

int main(int argc, char** argv) {
  const std::string output = argc > 1 ? argv[1] : ".";
  const test::TempDir dir;
  std::vector<sim::BalancerScenario> scenarios;
  for (const Duration late : {Duration{5s}, Duration{20s}}) {
    for (const auto hook : {sim::StopHook::lameduck, sim::StopHook::min_delay_only, sim::StopHook::sleep_30}) {
      scenarios.push_back({.hook = hook, .balancer_delay = late, .state_dir = dir.file(std::to_string(scenarios.size()))});
    }
  }
  std::vector<std::future<sim::BalancerOutcome>> running;
  for (const auto& scenario : scenarios) {
    running.push_back(std::async(std::launch::async, sim::run_balancer_scenario, scenario));
  }

  std::printf("A load balancer L late: deletion to the hook's end (SIGTERM) and to the agent's exit, and requests\n"
              "failed of 20/s through it, until the balancer let go of the pod\n");
  std::printf("  %-6s %-20s %14s %14s %16s %26s\n", "L", "hook", "to SIGTERM ms", "to exit ms", "failed",
              "quiet end after last req");
  nlohmann::json rows = nlohmann::json::array();
  for (std::size_t i = 0; i < scenarios.size(); ++i) {
    const auto outcome = running[i].get();
    const auto& scenario = scenarios[i];
    const std::string after =
        outcome.quiet_after_last_request ? std::to_string(to_ms(*outcome.quiet_after_last_request)) + " ms" : "";
    std::printf("  %-6s %-20s %14lld %14lld %9d of %-4d %26s\n",
                (std::to_string(to_ms(scenario.balancer_delay) / 1000) + " s").c_str(),
                std::string(sim::stop_hook_name(scenario.hook)).c_str(), static_cast<long long>(to_ms(outcome.to_hook_exit)),
                static_cast<long long>(to_ms(outcome.to_exit)), outcome.failed, outcome.sent, after.c_str());
    nlohmann::json row{{"balancerDelayMs", to_ms(scenario.balancer_delay)},
                       {"hook", sim::stop_hook_name(scenario.hook)},
                       {"toExitMs", to_ms(outcome.to_exit)},
                       {"toHookExitMs", to_ms(outcome.to_hook_exit)},
                       {"failed", outcome.failed},
                       {"sent", outcome.sent},
                       {"sentToPod", outcome.sent_to_pod},
                       {"ending", outcome.ending}};
    if (outcome.quiet_after_last_request) {
      row["quietEndAfterLastRequestMs"] = to_ms(*outcome.quiet_after_last_request);
    }
    rows.push_back(std::move(row));
  }
  std::ofstream(output + "/consumers.json") << rows.dump(2) << "\n";
  std::printf("\nwrote %s/consumers.json\n", output.c_str());
  return 0;
}
