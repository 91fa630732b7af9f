#pragma once

// One pod deleted behind a slow load balancer, on the simulated node: three agent pods, a
// balancer with IP targets that applies EndpointSlice changes `balancer_delay` late and keeps
// connections to the pods alive, steady load through it. The deleted pod's preStop hook is
// prestop with its quiet phase, prestop with --min-delay alone, or `sleep 30`. Shared by the
// test that asserts the outcomes and the benchmark that prints them.

#include "lameduck/core/deadline.hpp"

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lameduck::sim {

enum class StopHook {
  lameduck,       // prestop --min-delay 2s --until-quiet Q
  min_delay_only, // prestop --min-delay 2s --until-quiet 0
  sleep_30,       // sleep 30
};

std::string_view stop_hook_name(StopHook hook);

struct BalancerScenario {
  StopHook hook = StopHook::lameduck;
  Duration balancer_delay{std::chrono::seconds{5}};
  Duration quiet{std::chrono::seconds{1}};
  Duration min_delay{std::chrono::seconds{2}};
  int grace_seconds = 60;
  Duration load_interval{std::chrono::milliseconds{50}};
  int warm_requests = 5; // sent to the pod through the balancer before it is deleted
  bool deny_netlink = false; // prestop runs where socket(AF_NETLINK) is refused
  std::string state_dir;
};

struct BalancerOutcome {
  int sent = 0;
  int failed = 0;
  std::vector<std::string> failures;
  int sent_to_pod = 0;             // requests the balancer sent to the deleted pod, in all
  Duration to_hook_exit{0};        // deletion to the hook's exit
  Duration to_exit{0};             // deletion to the agent's exit
  std::string ending;              // "exited", or "killed" when the kubelet needed SIGKILL
  // prestop's quiet phase ended this long after the balancer sent the pod its last request.
  std::optional<Duration> quiet_after_last_request;
  nlohmann::json summary;          // prestop's summary (null for sleep 30)
  std::vector<std::string> prestop_log;
};

// Throws when the simulated node cannot be set up; the outcome says what happened otherwise.
BalancerOutcome run_balancer_scenario(const BalancerScenario& scenario);

// The phase of that name in a summary, or an empty object.
nlohmann::json summary_phase(const nlohmann::json& summary, std::string_view name);

} // namespace lameduck::sim
