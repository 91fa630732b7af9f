// The whole story on a simulated node: the kubelet's preStop/SIGTERM/SIGKILL rules, readiness
// probes, the EndpointSlice controller, a kube-proxy that applies changes late, and constant
// load. With lameduck, a rolling update loses no request and no task; without a preStop hook,
// the same rollout fails requests (which shows the scenario really races).

#include "lameduck/core/backoff.hpp"
#include "lameduck/core/durable_file.hpp"
#include "lameduck/state/checkpoint_store.hpp"
#include "sim/service_proxy.hpp"
#include "sim/sim_cluster.hpp"
#include "support/redis_process.hpp"
#include "support/task_ledger.hpp"
#include "support/temp_dir.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <functional>
#include <map>
#include <optional>

using namespace std::chrono_literals;
using lameduck::Deadline;
using lameduck::Duration;
using lameduck::sim::ClusterOptions;
using lameduck::sim::LoadGenerator;
using lameduck::sim::LoadResult;
using lameduck::sim::ServiceProxy;
using lameduck::sim::SimCluster;
using lameduck::sim::SimPod;

namespace {

constexpr auto k_propagation = 200ms;

struct Rollout {
  LoadResult load;
  std::multiset<std::string> finished; // each task.finished the agents logged, once per time
  std::set<std::string> kept; // every task id some agent completed or flushed
  std::vector<std::string> endings;
};

std::set<std::string> tasks_in(const nlohmann::json& state) {
  std::set<std::string> ids;
  if (state.is_object() && state.contains("tasks")) {
    for (const auto& [id, task] : state["tasks"].items()) {
      ids.insert(id);
    }
  }
  return ids;
}

std::set<std::string> tasks_of_live_pod(const SimPod& pod) {
  lameduck::HttpClient client(lameduck::parse_url(pod.agent_url("/")).value());
  lameduck::HttpRequest request;
  request.target = "/tasks";
  const auto answer = client.send(request, Deadline::after(5s));
  return answer ? tasks_in(nlohmann::json::parse(answer->body, nullptr, false)) : std::set<std::string>{};
}

// Called once the rollout is over, with the pods still there (the successors still working).
using AfterRollout = std::function<void(Rollout&, const std::vector<SimPod*>& pods)>;

Rollout roll(bool with_lameduck, const std::string& state_dir, int replicas, std::vector<std::string> agent_flags = {},
             Duration task_time = 1s, const AfterRollout& after = {}) {
  ClusterOptions options;
  options.agent_flags = std::move(agent_flags);
  options.with_prestop = with_lameduck;
  options.state_dir = state_dir;
  options.grace_seconds = 10;
  options.task_time = task_time;
  SimCluster cluster(options);
  std::vector<SimPod*> old;
  for (int i = 0; i < replicas; ++i) {
    old.push_back(&cluster.add_pod("v1-" + std::to_string(i)));
  }
  ServiceProxy proxy(cluster.api(), options.namespace_name, options.service, k_propagation);
  for (SimPod* pod : old) {
    REQUIRE(cluster.wait_ready(*pod, Deadline::after(10s)));
    REQUIRE(proxy.wait_routing(pod->ip(), true, Deadline::after(10s)));
  }

  LoadGenerator load(proxy.url(), 10ms, with_lameduck ? "lameduck-" : "baseline-");
  std::vector<SimPod*> fresh;
  for (int i = 0; i < replicas; ++i) {
    // maxSurge 1, maxUnavailable 0: the new pod serves before the old one goes.
    SimPod& next = cluster.add_pod("v2-" + std::to_string(i));
    fresh.push_back(&next);
    REQUIRE(cluster.wait_ready(next, Deadline::after(10s)));
    REQUIRE(proxy.wait_routing(next.ip(), true, Deadline::after(10s)));
    cluster.delete_pod(*old[i]);
    REQUIRE(cluster.wait_gone(*old[i], Deadline::after(30s)));
  }
  Rollout rollout;
  rollout.load = load.stop();
  for (SimPod* pod : old) {
    rollout.endings.push_back(pod->ending());
    const auto state = lameduck::read_small_file(pod->state_file());
    const auto ids = tasks_in(state && !state->missing ? nlohmann::json::parse(state->content, nullptr, false)
                                                        : nlohmann::json());
    rollout.kept.insert(ids.begin(), ids.end());
  }
  for (SimPod* pod : fresh) {
    const auto ids = tasks_of_live_pod(*pod);
    rollout.kept.insert(ids.begin(), ids.end());
  }
  if (after) {
    after(rollout, cluster.pods());
  }
  return rollout;
}

// The ledger: every time any agent, old or new, logged that it finished a task.
std::multiset<std::string> finished_tasks(const std::vector<SimPod*>& pods) {
  std::multiset<std::string> finished;
  for (const SimPod* pod : pods) {
    for (const auto& line : pod->agent_log()) {
      const auto json = nlohmann::json::parse(line, nullptr, false);
      if (json.is_object() && json.value("event", "") == "task.finished") {
        finished.insert(json.value("task", ""));
      }
    }
  }
  return finished;
}

int lost(const Rollout& rollout) {
  int count = 0;
  for (const auto& id : rollout.load.accepted) {
    count += rollout.kept.count(id) == 0 ? 1 : 0;
  }
  return count;
}

} // namespace

TEST_CASE("a rolling update of 5 replicas under constant load") {
  const lameduck::test::TempDir dir;
  const Rollout with_lameduck = roll(true, dir.file("lameduck"), 5);
  const Rollout baseline = roll(false, dir.file("baseline"), 5);

  MESSAGE("with lameduck: " << with_lameduck.load.sent << " requests, " << with_lameduck.load.failed << " failed, "
                            << lost(with_lameduck) << " tasks lost");
  MESSAGE("without a preStop hook: " << baseline.load.sent << " requests, " << baseline.load.failed << " failed, "
                                     << lost(baseline) << " tasks lost");
  CAPTURE(with_lameduck.load.failures);
  CHECK(with_lameduck.load.sent > 100);
  CHECK(with_lameduck.load.failed == 0);
  CHECK(lost(with_lameduck) == 0);
  for (const auto& ending : with_lameduck.endings) {
    CHECK(ending == "exited"); // the kubelet never had to SIGKILL
  }
  CHECK(baseline.load.failed > 0);
}

TEST_CASE("a rolling update with agents sharing one Redis: every accepted task is finished exactly once") {
  lameduck::test::RedisProcess redis(lameduck::test::RedisProcess::Options{.append_only = true});
  const lameduck::test::TempDir dir;
  const auto store = lameduck::open_checkpoint_store(redis.url()).value();
  std::map<std::string, lameduck::TaskRecord> records;
  std::size_t checkpointed = 0; // tasks a terminating pod saved, which a successor resumed
  // Tasks of 6 s: those accepted in a pod's last seconds in the Service are still in flight
  // when its drain begins, so they are checkpointed and resumed elsewhere.
  const Rollout rollout = roll(true, dir.file("node"), 3, {"--state-url", redis.url()}, 6s, [&](Rollout& done, const auto& pods) {
    // Until every accepted task is done: the last pods' checkpoints are still being resumed.
    lameduck::Backoff backoff({100ms, 500ms});
    const auto deadline = Deadline::after(30s);
    do {
      done.finished = finished_tasks(pods);
    } while (!std::includes(done.finished.begin(), done.finished.end(), done.load.accepted.begin(),
                            done.load.accepted.end()) &&
             backoff.wait(deadline));
    for (const SimPod* pod : pods) {
      for (const auto& line : pod->agent_log()) {
        const auto json = nlohmann::json::parse(line, nullptr, false);
        if (json.is_object() && json.value("event", "") == "state.checkpointed") {
          checkpointed += json.at("tasks").size();
        }
      }
    }
    records = store->records(Deadline::after(10s)).value();
  });

  MESSAGE("sharing Redis: " << rollout.load.sent << " requests, " << rollout.load.accepted.size()
                            << " tasks accepted, " << checkpointed << " checkpointed by a terminating pod and resumed");
  CHECK(rollout.load.failed == 0);
  CHECK(checkpointed > 0); // the rollout did interrupt work, or it proves nothing
  const auto ledger = lameduck::test::tally_ledger(rollout.load.accepted, rollout.finished, records);
  CHECK_MESSAGE(ledger.not_once_in_store.empty(), ledger.not_once_summary());
  CHECK(ledger.lost == 0);
  CHECK(ledger.twice == 0);
  for (const auto& ending : rollout.endings) {
    CHECK(ending == "exited");
  }
}

TEST_CASE("the kubelet's rules around prestop") {
  const lameduck::test::TempDir dir;
  ClusterOptions options;
  options.state_dir = dir.file("node");
  options.task_time = 500ms;

  SUBCASE("an agent that hangs in its drain: prestop is out before the grace period, SIGTERM follows, no SIGKILL") {
    options.grace_seconds = 4;
    options.agent_flags = {"--flush-time", "1h"};
    options.prestop_flags = {"--min-delay", "200ms", "--margin", "1s"};
    SimCluster cluster(options);
    SimPod& pod = cluster.add_pod("hung");
    REQUIRE(cluster.wait_ready(pod, Deadline::after(10s)));
    cluster.delete_pod(pod);
    REQUIRE(cluster.wait_gone(pod, Deadline::after(20s)));
    CHECK(pod.ending() == "exited");
    bool hook_exited = false;
    for (const auto& entry : cluster.timeline()) {
      hook_exited = hook_exited || entry.what == "preStop hook exited with 1";
      CHECK(entry.what != "SIGKILL");
    }
    CHECK(hook_exited);
  }
  SUBCASE("kubectl delete --grace-period=5 on a pod whose spec says 30: prestop keeps to the shorter deadline") {
    options.agent_flags = {"--flush-time", "1h"};
    options.prestop_flags = {"--min-delay", "200ms", "--margin", "1s"};
    SimCluster cluster(options);
    SimPod& pod = cluster.add_pod("hurried");
    REQUIRE(cluster.wait_ready(pod, Deadline::after(10s)));
    cluster.delete_pod(pod, 5);
    REQUIRE(cluster.wait_gone(pod, Deadline::after(20s)));
    CHECK(pod.ending() == "exited");
    std::optional<Duration> deleted;
    std::optional<Duration> hook_exited; // stays empty when the kubelet had to abandon the hook
    for (const auto& entry : cluster.timeline()) {
      if (entry.what.rfind("deleted", 0) == 0) {
        deleted = entry.at;
      }
      if (entry.what.rfind("preStop hook exited", 0) == 0) {
        hook_exited = entry.at;
      }
      CHECK(entry.what != "SIGKILL");
    }
    REQUIRE(deleted);
    REQUIRE(hook_exited);
    // deletionTimestamp is whole seconds: the deadline is 4 to 5 s after deletion, minus the margin.
    CHECK(*hook_exited - *deleted < 4s);
  }
  SUBCASE("the API is down: prestop waits --fallback-delay instead, and the load still sees no failure") {
    options.api_down = true;
    options.prestop_flags = {"--min-delay", "200ms", "--fallback-delay", "1s"};
    SimCluster cluster(options);
    SimPod& leaving = cluster.add_pod("leaving");
    SimPod& staying = cluster.add_pod("staying");
    REQUIRE(cluster.wait_ready(leaving, Deadline::after(10s)));
    REQUIRE(cluster.wait_ready(staying, Deadline::after(10s)));
    ServiceProxy proxy(cluster.api(), options.namespace_name, options.service, k_propagation);
    REQUIRE(proxy.wait_routing(leaving.ip(), true, Deadline::after(10s)));
    REQUIRE(proxy.wait_routing(staying.ip(), true, Deadline::after(10s)));
    LoadGenerator load(proxy.url(), 10ms, "api-down-");
    cluster.delete_pod(leaving);
    REQUIRE(cluster.wait_gone(leaving, Deadline::after(20s)));
    const auto result = load.stop();
    CAPTURE(result.failures);
    CHECK(result.failed == 0);
    CHECK(leaving.ending() == "exited");
  }
  SUBCASE("a liveness restart: no deletion, so the readiness flip alone takes the pod out, and it comes back") {
    SimCluster cluster(options);
    SimPod& pod = cluster.add_pod("restarted");
    SimPod& other = cluster.add_pod("other");
    REQUIRE(cluster.wait_ready(pod, Deadline::after(10s)));
    REQUIRE(cluster.wait_ready(other, Deadline::after(10s)));
    ServiceProxy proxy(cluster.api(), options.namespace_name, options.service, k_propagation);
    REQUIRE(proxy.wait_routing(pod.ip(), true, Deadline::after(10s)));
    LoadGenerator load(proxy.url(), 10ms, "restart-");
    cluster.restart_container(pod);
    REQUIRE(proxy.wait_routing(pod.ip(), false, Deadline::after(20s)));
    REQUIRE(proxy.wait_routing(pod.ip(), true, Deadline::after(20s)));
    const auto result = load.stop();
    CAPTURE(result.failures);
    CHECK(result.failed == 0);
    std::vector<std::string> order;
    for (const auto& entry : cluster.timeline()) {
      if (entry.pod == "restarted") {
        order.push_back(entry.what);
      }
    }
    const auto at = [&order](const std::string& what) {
      return std::find(order.begin(), order.end(), what) - order.begin();
    };
    CAPTURE(order);
    CHECK(at("readiness probe: not ready") < at("SIGTERM"));
    CHECK(at("preStop hook exited with 0") < at("SIGTERM"));
    CHECK(at("container restarted") < static_cast<long>(order.size()));
  }
}
