// A rolling update by the real Deployment controller (5 replicas, maxSurge 1, maxUnavailable 0)
// under constant load through the kube-proxy stand-in, which follows the real EndpointSlices.
// With the chart's preStop hook no request fails and no accepted task is lost; the same
// rollout with the hook removed fails requests, which shows that the race is real.

#include "agent_release.hpp"
#include "lameduck/http/http_client.hpp"
#include "sim/service_proxy.hpp"

#include <doctest/doctest.h>

#include <fstream>
#include <set>

using namespace std::chrono_literals;
using lameduck::Deadline;
using lameduck::sim::LoadGenerator;
using lameduck::sim::LoadResult;
using lameduck::sim::ServiceProxy;
using lameduck::test::AgentRelease;
using lameduck::test::PodRef;
using lameduck::test::shared_cluster;

namespace {

// kube-proxy applies a change some time after the API server has it (its iptables sync).
constexpr auto k_propagation = 200ms;

std::set<std::string> tasks_in(const nlohmann::json& state) {
  std::set<std::string> ids;
  if (state.is_object() && state.contains("tasks") && state["tasks"].is_object()) {
    for (const auto& [id, task] : state["tasks"].items()) {
      ids.insert(id);
    }
  }
  return ids;
}

struct Rollout {
  LoadResult load;
  std::set<std::string> kept; // every task id an agent completed or flushed
};

int lost(const Rollout& rollout) {
  int count = 0;
  for (const auto& id : rollout.load.accepted) {
    count += rollout.kept.count(id) == 0 ? 1 : 0;
  }
  return count;
}

// `kubectl rollout restart` under load; returns once every old pod is gone.
Rollout restart_under_load(AgentRelease& release, ServiceProxy& proxy, const std::string& prefix) {
  auto& cluster = shared_cluster();
  const auto old = release.live_pods();
  for (const auto& pod : old) {
    REQUIRE(proxy.wait_routing(pod.ip, true, Deadline::after(30s)));
  }
  LoadGenerator load(proxy.url(), 10ms, prefix);
  const auto restarted = cluster.kubectl({"rollout", "restart", "deployment/" + release.name(), "-n",
                                          release.namespace_name()});
  REQUIRE(restarted.exit_code == 0);
  release.wait_rolled_out(5min);
  for (const auto& pod : old) {
    release.wait_node_event(pod, "pod.gone", 60s);
  }
  Rollout rollout;
  rollout.load = load.stop();
  for (const auto& pod : old) {
    const auto state = nlohmann::json::parse(release.gone_volume_file(pod, "lameduck-state", "agent.json"),
                                             nullptr, false);
    const auto ids = tasks_in(state);
    rollout.kept.insert(ids.begin(), ids.end());
  }
  for (const auto& pod : release.live_pods()) {
    lameduck::HttpClient client(lameduck::parse_url("http://" + pod.ip + ":8080").value());
    lameduck::HttpRequest request;
    request.target = "/tasks";
    const auto answer = client.send(request, Deadline::after(5s));
    REQUIRE(answer);
    const auto ids = tasks_in(nlohmann::json::parse(answer->body, nullptr, false));
    rollout.kept.insert(ids.begin(), ids.end());
  }
  return rollout;
}

} // namespace

TEST_CASE("a rolling update by the real Deployment controller under constant load") {
  auto& cluster = shared_cluster();
  AgentRelease release(cluster, "rollout", {{"replicas", 5}});
  ServiceProxy proxy(cluster.kube_proxy_config(), release.namespace_name(), release.name(), k_propagation);

  const Rollout with_lameduck = restart_under_load(release, proxy, "lameduck-");

  // The same Deployment without the preStop hook: SIGTERM comes as the endpoint goes.
  const auto unhooked = cluster.kubectl({"patch", "deployment", release.name(), "-n", release.namespace_name(),
                                         "--type=json", "-p",
                                         R"([{"op":"remove","path":"/spec/template/spec/containers/0/lifecycle"}])"});
  REQUIRE(unhooked.exit_code == 0);
  release.wait_rolled_out(5min);
  const Rollout baseline = restart_under_load(release, proxy, "baseline-");

  MESSAGE("with lameduck: " << with_lameduck.load.sent << " requests, " << with_lameduck.load.failed << " failed, "
                            << lost(with_lameduck) << " tasks lost");
  MESSAGE("without a preStop hook: " << baseline.load.sent << " requests, " << baseline.load.failed << " failed, "
                                     << lost(baseline) << " tasks lost");
  CAPTURE(with_lameduck.load.failures);
  CHECK(with_lameduck.load.sent > 100);
  CHECK(with_lameduck.load.failed == 0);
  CHECK(lost(with_lameduck) == 0);
  CHECK(baseline.load.failed > 0);
}
