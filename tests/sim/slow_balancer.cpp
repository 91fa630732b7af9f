#include "sim/slow_balancer.hpp"

#include "lameduck/core/rfc3339.hpp"
#include "sim/service_proxy.hpp"
#include "sim/sim_cluster.hpp"
#include "support/process.hpp"

#include <stdexcept>

namespace lameduck::sim {

namespace {

using namespace std::chrono_literals;

constexpr int k_pods = 3;

std::vector<std::string> hook_flags(const BalancerScenario& scenario) {
  const auto ms = [](Duration duration) { return std::to_string(to_ms(duration)) + "ms"; };
  switch (scenario.hook) {
  case StopHook::lameduck:
    return {"--min-delay", ms(scenario.min_delay), "--until-quiet", ms(scenario.quiet)};
  case StopHook::min_delay_only:
  case StopHook::sleep_30:
    break;
  }
  return {"--min-delay", ms(scenario.min_delay), "--until-quiet", "0"};
}

std::optional<Duration> timeline_at(const SimCluster& cluster, const std::string& pod, std::string_view prefix) {
  for (const auto& entry : cluster.timeline()) {
    if (entry.pod == pod && entry.what.rfind(prefix, 0) == 0) {
      return entry.at;
    }
  }
  return std::nullopt;
}

// When prestop logged the end of its quiet phase, on the wall clock of its "ts".
std::optional<WallClock::time_point> quiet_phase_end(const std::vector<std::string>& log) {
  for (const auto& line : log) {
    const auto entry = nlohmann::json::parse(line, nullptr, false);
    if (entry.is_object() && entry.value("phase", "") == "quiet" &&
        (entry.value("event", "") == "phase.done" || entry.value("event", "") == "phase.gave_up")) {
      const auto at = parse_rfc3339(entry.value("ts", ""));
      return at ? std::optional{*at} : std::nullopt;
    }
  }
  return std::nullopt;
}

nlohmann::json summary_of(const std::vector<std::string>& log) {
  for (const auto& line : log) {
    const auto entry = nlohmann::json::parse(line, nullptr, false);
    if (entry.is_object() && entry.value("event", "") == "prestop.summary") {
      return entry;
    }
  }
  return nullptr;
}

} // namespace

std::string_view stop_hook_name(StopHook hook) {
  switch (hook) {
  case StopHook::lameduck:
    return "lameduck";
  case StopHook::min_delay_only:
    return "--min-delay alone";
  case StopHook::sleep_30:
    return "sleep 30";
  }
  return "?";
}

nlohmann::json summary_phase(const nlohmann::json& summary, std::string_view name) {
  if (summary.is_object() && summary.contains("phases") && summary["phases"].is_array()) {
    for (const auto& phase : summary["phases"]) {
      if (phase.is_object() && phase.value("phase", "") == name) {
        return phase;
      }
    }
  }
  return nlohmann::json::object();
}

BalancerOutcome run_balancer_scenario(const BalancerScenario& scenario) {
  ClusterOptions options;
  options.state_dir = scenario.state_dir;
  options.grace_seconds = scenario.grace_seconds;
  options.task_time = 200ms;
  options.prestop_flags = hook_flags(scenario);
  if (scenario.deny_netlink) {
    options.hook_wrapper = {test::tool_path("deny-netlink")};
  }
  if (scenario.hook == StopHook::sleep_30) {
    options.hook_command = {"/bin/sleep", "30"};
  }
  SimCluster cluster(options);
  std::vector<SimPod*> pods;
  for (int i = 0; i < k_pods; ++i) {
    pods.push_back(&cluster.add_pod("agent-" + std::to_string(i)));
  }
  ServiceProxy balancer(cluster.api(), options.namespace_name, options.service, scenario.balancer_delay,
                        BackendConnections::kept_alive);
  for (SimPod* pod : pods) {
    if (!cluster.wait_ready(*pod, Deadline::after(10s)) ||
        !balancer.wait_routing(pod->ip(), true, Deadline::after(scenario.balancer_delay + 10s))) {
      throw std::runtime_error(pod->name() + " never joined the balancer");
    }
  }

  SimPod& leaving = *pods.front();
  LoadGenerator load(balancer.url(), scenario.load_interval, "task-");
  // Steady load first: a few requests on the leaving pod's kept-alive connections.
  if (!balancer.wait_forwarded(leaving.ip(), scenario.warm_requests,
                               Deadline::after(scenario.load_interval * (k_pods * scenario.warm_requests) + 10s))) {
    throw std::runtime_error("the balancer sent " + leaving.name() + " nothing");
  }

  const auto steady_zero = Clock::now();
  const auto wall_zero = WallClock::now();
  cluster.delete_pod(leaving);
  const auto gone_by = Deadline::after(std::chrono::seconds{scenario.grace_seconds} + 20s);
  if (!cluster.wait_gone(leaving, gone_by)) {
    throw std::runtime_error(leaving.name() + " was not gone after its grace period");
  }
  // The load goes on until the balancer has let go of the pod too: what it sends to a pod that
  // is already gone fails, and counts.
  if (!balancer.wait_routing(leaving.ip(), false, Deadline::after(scenario.balancer_delay + 10s))) {
    throw std::runtime_error("the balancer never let go of " + leaving.name());
  }
  const auto result = load.stop();

  BalancerOutcome outcome;
  outcome.sent = result.sent;
  outcome.failed = result.failed;
  outcome.failures = result.failures;
  outcome.sent_to_pod = balancer.forwarded(leaving.ip());
  outcome.ending = leaving.ending();
  outcome.prestop_log = leaving.prestop_log();
  outcome.summary = summary_of(outcome.prestop_log);
  const auto deleted_at = timeline_at(cluster, leaving.name(), "deleted");
  auto hook_exit = timeline_at(cluster, leaving.name(), "preStop hook exited");
  if (!hook_exit) {
    hook_exit = timeline_at(cluster, leaving.name(), "preStop hook still running");
  }
  const auto exited = timeline_at(cluster, leaving.name(), "agent exited");
  if (deleted_at && hook_exit) {
    outcome.to_hook_exit = *hook_exit - *deleted_at;
  }
  if (deleted_at && exited) {
    outcome.to_exit = *exited - *deleted_at;
  }
  const auto quiet_end = quiet_phase_end(outcome.prestop_log);
  const auto last_request = balancer.last_forwarded(leaving.ip());
  if (quiet_end && last_request) {
    const auto quiet_end_steady = steady_zero + (*quiet_end - wall_zero);
    outcome.quiet_after_last_request = std::chrono::duration_cast<Duration>(quiet_end_steady - *last_request);
  }
  return outcome;
}

} // namespace lameduck::sim
