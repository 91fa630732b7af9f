// A rolling update by the real Deployment controller (5 replicas, maxSurge 1, maxUnavailable 0)
// on the real node, under constant load from the host through the Service's ClusterIP, which
// kube-proxy's iptables rules route. With the chart's preStop hook no request fails and no
// accepted task is lost; the same rollout with the hook removed fails requests, which shows
// that the race is real; and the usual guess, the kubelet's own `sleep` action, is measured
// beside them. Then agents that share one Redis are rolled, and a ledger of task ids shows every
// accepted task finished exactly once, by the pod that took it or by a successor.

#include "agent_release.hpp"
#include "lameduck/core/backoff.hpp"
#include "lameduck/state/checkpoint_store.hpp"
#include "sim/service_proxy.hpp"
#include "support/redis_process.hpp"
#include "support/task_ledger.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <set>

using namespace std::chrono_literals;
using lameduck::Deadline;
using lameduck::sim::LoadGenerator;
using lameduck::sim::LoadResult;
using lameduck::test::AgentRelease;
using lameduck::test::PodRef;
using lameduck::test::shared_cluster;

namespace {

struct Rollout {
  LoadResult load;
  std::set<std::string> kept; // every task id an agent wrote as it drained, or still holds
  std::vector<std::vector<nlohmann::json>> old_logs; // each old pod's agent log, to its end
  std::vector<nlohmann::json> old_endings;          // each old agent container's last state
  std::vector<std::string> witnesses; // each pod the ledger read, and what it found there
  long long ms = 0;           // from `kubectl rollout restart` until the last old pod was gone
  long long longest_termination_ms = 0; // an old pod, from its deletion until it left the API
};

int lost(const Rollout& rollout) { return lameduck::test::lost_tasks(rollout.load.accepted, rollout.kept); }

// `kubectl rollout restart` under load; returns once every old pod is gone from the API.
Rollout restart_under_load(AgentRelease& release, const std::string& prefix) {
  auto& cluster = shared_cluster();
  const auto old = release.live_pods();
  std::vector<std::unique_ptr<lameduck::test::Process>> logs;
  for (const auto& pod : old) {
    logs.push_back(release.follow_log(pod, "agent"));
  }
  LoadGenerator load(release.service_url(), 10ms, prefix);
  const auto started = std::chrono::steady_clock::now();
  const auto restarted = cluster.kubectl({"rollout", "restart", "deployment/" + release.name(), "-n",
                                          release.namespace_name()});
  REQUIRE(restarted.exit_code == 0);
  release.wait_rolled_out(5min);
  Rollout rollout;
  for (const auto& pod : old) {
    const auto last = release.wait_gone(pod, 60s);
    rollout.old_endings.push_back(lameduck::test::container_status(last, "agent")["state"]);
    rollout.longest_termination_ms =
        std::max<long long>(rollout.longest_termination_ms, release.trail().termination_time(pod.uid)->count());
  }
  rollout.ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started).count();
  rollout.load = load.stop();
  for (std::size_t i = 0; i < logs.size(); ++i) {
    const auto exit_code = logs[i]->wait_exit(Deadline::after(10s));
    const auto written = lameduck::test::tasks_written(*logs[i]);
    rollout.kept.insert(written.begin(), written.end());
    rollout.old_logs.push_back(lameduck::test::json_lines(*logs[i]));
    rollout.witnesses.push_back(old[i].name + " (old): " + std::to_string(rollout.old_logs.back().size()) +
                                " log lines, " + std::to_string(written.size()) +
                                " tasks written, kubectl logs " +
                                (exit_code ? "exited " + std::to_string(*exit_code) : std::string("still running")));
  }
  for (const auto& pod : release.live_pods()) {
    const auto held = lameduck::test::tasks_held(pod);
    rollout.kept.insert(held.begin(), held.end());
    rollout.witnesses.push_back(pod.name + " (new): " + std::to_string(held.size()) + " tasks held");
  }
  return rollout;
}

// The agent's preStop hook replaced (or, with a null `hook`, removed); postStart stays. Returns
// once the pods of the old template are gone from the API: one still terminating could take a
// task of the next rollout's load that no followed log would show.
void set_prestop(const lameduck::test::RealCluster& cluster, const AgentRelease& release, const nlohmann::json& hook) {
  const auto before = release.live_pods();
  const std::string path = "/spec/template/spec/containers/0/lifecycle/preStop";
  const nlohmann::json patch = hook.is_null() ? nlohmann::json{{{"op", "remove"}, {"path", path}}}
                                              : nlohmann::json{{{"op", "replace"}, {"path", path}, {"value", hook}}};
  const auto patched = cluster.kubectl({"patch", "deployment", release.name(), "-n", release.namespace_name(),
                                        "--type=json", "-p", patch.dump()});
  CAPTURE(patched.stderr_text);
  REQUIRE(patched.exit_code == 0);
  release.wait_rolled_out(5min);
  for (const auto& pod : before) {
    release.wait_gone(pod, 60s);
  }
}

// The ledger: every time an agent logged that it finished a task, once per time.
void count_finished(const std::vector<nlohmann::json>& log, std::multiset<std::string>& finished) {
  for (const auto& line : log) {
    if (line.value("event", "") == "task.finished") {
      finished.insert(line.value("task", ""));
    }
  }
}

void report(const std::string& what, const Rollout& rollout) {
  std::string failures;
  for (std::size_t i = 0; i < rollout.load.failures.size() && i < 5; ++i) {
    failures += "\n  " + rollout.load.failures[i];
  }
  // A lost task's id counts the load's requests, 10 ms apart: when it was sent. The pod that
  // took it, and what the ledger read of each pod, say where its record went missing.
  int shown = 0;
  for (const auto& id : rollout.load.accepted) {
    if (rollout.kept.count(id) == 0 && shown++ < 5) {
      const auto by = rollout.load.accepted_by.find(id);
      failures += "\n  lost: " + id + ", accepted by " + (by == rollout.load.accepted_by.end() ? "?" : by->second);
    }
  }
  if (shown > 0) {
    for (const auto& witness : rollout.witnesses) {
      failures += "\n  read " + witness;
    }
  }
  MESSAGE(what << ": " << rollout.load.sent << " requests, " << rollout.load.failed << " failed, " << lost(rollout)
               << " tasks lost; the rollout took " << rollout.ms << " ms, the longest termination "
               << rollout.longest_termination_ms << " ms" << failures);
}

} // namespace

TEST_CASE("a rolling update by the real Deployment controller under constant load through the ClusterIP") {
  auto& cluster = shared_cluster();
  AgentRelease release(cluster, "rollout", {{"replicas", 5}});

  const Rollout with_lameduck = restart_under_load(release, "lameduck-");

  // The guess lameduck replaces: the kubelet's native sleep action, 5 s, then SIGTERM.
  set_prestop(cluster, release, {{"sleep", {{"seconds", 5}}}});
  const Rollout with_sleep = restart_under_load(release, "sleep-");

  // No hook at all: SIGTERM comes as the endpoint goes.
  set_prestop(cluster, release, nullptr);
  const Rollout baseline = restart_under_load(release, "baseline-");

  report("with lameduck", with_lameduck);
  report("with preStop sleep 5 s", with_sleep);
  report("without a preStop hook", baseline);
  CHECK(with_lameduck.load.sent > 100);
  CHECK(with_lameduck.load.failed == 0);
  CHECK(lost(with_lameduck) == 0);
  CHECK(baseline.load.failed > 0);
}

// The same ledger as the simulated node's, on the real one: a Redis of the machine's own, on the
// cluster's address, which the pods reach through the pod network as they would a managed Redis.
TEST_CASE("a rolling update on the real node with agents sharing one Redis: every accepted task is finished exactly once") {
  auto& cluster = shared_cluster();
  lameduck::test::RedisProcess redis({.append_only = true, .address = cluster.env().api_host});
  const std::string url = redis.url("rollout-state:");
  // Tasks of 6 s, so that drains interrupt work: a task accepted in a pod's last seconds in the
  // Service is still in flight when its drain begins, is checkpointed, and resumed elsewhere.
  AgentRelease release(cluster, "rollout-state",
                       {{"replicas", 3},
                        {"args", {"--listen=0.0.0.0:8080", "--task-time=6s", "--state-url=" + url, "--lease=5s"}}});
  const Rollout rollout = restart_under_load(release, "state-");

  // Until the ledger is complete: the last pods' checkpoints are still being resumed by the new
  // ones, and an agent logs a finish just after the store has it, so both witnesses are awaited.
  std::multiset<std::string> finished_by_old;
  std::size_t checkpointed = 0; // tasks the old pods saved as they drained
  for (const auto& log : rollout.old_logs) {
    count_finished(log, finished_by_old);
    for (const auto& line : log) {
      if (line.value("event", "") == "state.checkpointed") {
        checkpointed += line.at("tasks").size();
      }
    }
  }
  const auto store = lameduck::open_checkpoint_store(url).value();
  lameduck::test::LedgerTally ledger;
  lameduck::Backoff backoff({200ms, 1s});
  const auto deadline = Deadline::after(60s);
  do {
    const auto records = store->records(deadline.within(10s)).value();
    std::multiset<std::string> finished = finished_by_old;
    for (const auto& pod : release.live_pods()) {
      count_finished(release.log_lines(pod, "agent", deadline.cap(10s)), finished);
    }
    ledger = lameduck::test::tally_ledger(rollout.load.accepted, finished, records);
  } while ((ledger.lost > 0 || !ledger.not_once_in_store.empty()) && backoff.wait(deadline));

  MESSAGE("sharing Redis on the real node: " << rollout.load.sent << " requests, " << rollout.load.accepted.size()
                                             << " tasks accepted, " << checkpointed
                                             << " checkpointed by a terminating pod, " << ledger.lost << " lost, "
                                             << ledger.twice << " finished twice; the rollout took " << rollout.ms << " ms");
  CHECK_MESSAGE(ledger.not_once_in_store.empty(), ledger.not_once_summary());
  CHECK(rollout.load.failed == 0);
  CHECK(checkpointed > 0); // the rollout did interrupt work, or it proves nothing
  CHECK(ledger.lost == 0);
  CHECK(ledger.twice == 0);
  for (const auto& ending : rollout.old_endings) {
    CAPTURE(ending.dump());
    CHECK(ending["terminated"].value("exitCode", -1) == 0); // drained and out on SIGTERM, no SIGKILL
  }
}
