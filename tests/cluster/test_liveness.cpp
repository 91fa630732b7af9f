// A liveness restart on the real node: the agent's health check fails, the kubelet restarts its
// container without deleting the pod. The pod leaves the Service through readiness alone (the
// sidecar asks the same health check), prestop drains the agent before the kubelet's SIGTERM,
// and postStart turns readiness back on when the container runs again: no request fails, and
// the restarted agent holds every task it had.

#include "agent_release.hpp"
#include "lameduck/http/http_client.hpp"
#include "sim/service_proxy.hpp"

#include <doctest/doctest.h>

using namespace std::chrono_literals;
using lameduck::Deadline;
using lameduck::sim::LoadGenerator;
using lameduck::test::AgentRelease;
using lameduck::test::PodRef;
using lameduck::test::container_status;
using lameduck::test::shared_cluster;
using lameduck::test::wait_kubelet_log;

namespace {

bool ready(const nlohmann::json& pod) {
  for (const auto& condition : pod["status"].value("conditions", nlohmann::json::array())) {
    if (condition.value("type", "") == "Ready") {
      return condition.value("status", "") == "True";
    }
  }
  return false;
}

int restarts(const nlohmann::json& pod) {
  const auto agent = container_status(pod, "agent");
  return agent.is_object() ? agent.value("restartCount", 0) : 0;
}

} // namespace

TEST_CASE("a liveness restart: out through readiness, drained by prestop, back with postStart, nothing fails") {
  auto& cluster = shared_cluster();
  const AgentRelease release(cluster, "liveness",
                             {{"livenessProbe", {{"periodSeconds", 1}, {"failureThreshold", 2}}}});
  const auto pods = release.live_pods();
  REQUIRE(pods.size() == 2);
  const PodRef& sick = pods[0];
  const auto first_run = release.follow_log(sick, "agent");
  LoadGenerator load(release.service_url(), 10ms, "live-");
  REQUIRE(lameduck::test::wait_until_holds_tasks(sick));

  lameduck::HttpClient client(lameduck::parse_url("http://" + sick.ip + ":8080").value());
  const auto told = client.send({.method = "POST", .target = "/unhealthy", .headers = {}, .body = {}, .content_type = {}},
                                Deadline::after(5s));
  REQUIRE(told);
  REQUIRE(told->status == 200);

  // The kubelet's decision, in its own words, then its hook, then the same pod Ready again.
  const auto decided = wait_kubelet_log(cluster, sick, "agent", "Message for Container of pod", 60s);
  CHECK(decided.value("containerMessage", "").find("failed liveness probe, will be restarted") != std::string::npos);
  wait_kubelet_log(cluster, sick, "agent", "PreStop hook completed", 60s);
  const auto back = release.trail().wait_for(sick.uid, [](const nlohmann::json& pod) {
    return restarts(pod) == 1 && ready(pod);
  }, Deadline::after(90s));
  REQUIRE(back);
  const auto result = load.stop();

  // The first run ended through prestop: its summary is the termination message the kubelet
  // kept as the container's last state, and it exited on SIGTERM, not SIGKILL.
  const auto last_state = container_status(*back, "agent")["lastState"]["terminated"];
  CAPTURE(last_state.dump());
  CHECK(last_state.value("exitCode", -1) == 0);
  const std::string message = last_state.value("message", "");
  const auto summary = nlohmann::json::parse(message.substr(0, message.find('\n')), nullptr, false);
  REQUIRE(summary.is_object());
  CHECK(summary["outcome"] == "drained");
  CHECK(summary["deadlineFrom"] == "grace-period"); // the pod was never deleted

  // Every task the load placed is held by one of the two agents, the restarted one included
  // (it reloaded what it wrote as it drained).
  auto kept = lameduck::test::tasks_held(sick);
  for (const auto& pod : release.live_pods()) {
    const auto held = lameduck::test::tasks_held(pod);
    kept.insert(held.begin(), held.end());
  }
  const int lost = lameduck::test::lost_tasks(result.accepted, kept);
  first_run->wait_exit(Deadline::after(10s));
  MESSAGE("liveness restart under load: " << result.sent << " requests, " << result.failed << " failed, " << lost
          << " tasks lost; the first run wrote " << lameduck::test::tasks_written(*first_run).size() << " tasks");
  CHECK(result.failed == 0);
  CHECK(lost == 0);
  CHECK(lameduck::test::tasks_written(*first_run).size() > 0);
}
