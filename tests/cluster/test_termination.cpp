// One pod's termination on the real node: the kubelet runs the chart's preStop hook in the
// agent's container, prestop reads the pod and watches its EndpointSlices with the pod's own
// bound service-account token under the chart's Role, the real EndpointSlice controller marks
// the endpoint terminating and kube-proxy stops routing to it. What the kubelet did is read
// from its own log and from the pod's last status; the API server's audit log shows every
// request prestop made.

#include "agent_release.hpp"
#include "sim/service_proxy.hpp"
#include "sim/sim_cluster.hpp"
#include "support/appended_file.hpp"
#include "support/temp_dir.hpp"

#include <doctest/doctest.h>

#include <algorithm>

using namespace std::chrono_literals;
using lameduck::Deadline;
using lameduck::sim::LoadGenerator;
using lameduck::test::AgentRelease;
using lameduck::test::PodRef;
using lameduck::test::first_event;
using lameduck::test::json_lines;
using lameduck::test::kubelet_log_time;
using lameduck::test::parse_log_time;
using lameduck::test::shared_cluster;
using lameduck::test::wait_kubelet_log;

namespace {

// prestop's summary, as the kubelet copied the termination log into the pod's last status.
nlohmann::json summary_of(const nlohmann::json& last_state) {
  const auto agent = lameduck::test::container_status(last_state, "agent");
  REQUIRE(agent.is_object());
  const std::string message = agent["state"]["terminated"].value("message", "");
  return nlohmann::json::parse(message.substr(0, message.find('\n')), nullptr, false);
}

nlohmann::json phase_of(const nlohmann::json& summary, const std::string& name) {
  for (const auto& phase : summary.value("phases", nlohmann::json::array())) {
    if (phase.value("phase", "") == name) {
      return phase;
    }
  }
  return nlohmann::json::object();
}

// A Service whose slice another controller writes (a mesh, a load balancer's own controller):
// the pod stays ready in it until that controller says otherwise, so prestop must watch it.
void write_managed_slice(const lameduck::test::RealCluster& cluster, const AgentRelease& release, const PodRef& pod,
                         bool ready, bool create) {
  const std::string ns = release.namespace_name();
  if (create) {
    const nlohmann::json service = {{"apiVersion", "v1"}, {"kind", "Service"},
                                    {"metadata", {{"name", "mesh"}, {"namespace", ns}}},
                                    {"spec", {{"ports", {{{"name", "http"}, {"port", 8080}}}}}}};
    REQUIRE(cluster.kubectl({"create", "-f", "-"}, service.dump()).exit_code == 0);
  }
  const nlohmann::json slice = {
      {"apiVersion", "discovery.k8s.io/v1"},
      {"kind", "EndpointSlice"},
      {"metadata", {{"name", "mesh-1"}, {"namespace", ns},
                    {"labels", {{"kubernetes.io/service-name", "mesh"},
                                {"endpointslice.kubernetes.io/managed-by", "mesh-controller.example"}}}}},
      {"addressType", "IPv4"},
      {"endpoints", {{{"addresses", {pod.ip}},
                      {"conditions", {{"ready", ready}, {"serving", ready}, {"terminating", !ready}}},
                      {"targetRef", {{"kind", "Pod"}, {"namespace", ns}, {"name", pod.name}, {"uid", pod.uid}}}}}},
      {"ports", {{{"name", "http"}, {"port", 8080}, {"protocol", "TCP"}}}}};
  const auto written = cluster.kubectl({create ? "create" : "replace", "-f", "-"}, slice.dump());
  CAPTURE(written.stderr_text);
  REQUIRE(written.exit_code == 0);
}

// Until the audit log shows the pod's service account watching EndpointSlices, woken by each
// append to it.
bool wait_for_watch(const lameduck::test::RealCluster& cluster, const AgentRelease& release, const PodRef& pod) {
  const std::string user = "system:serviceaccount:" + release.namespace_name() + ":" + release.service_account();
  return lameduck::test::wait_for_appended_line(
             cluster.env().audit_log,
             [&](const std::string& line) {
               if (line.find("\"watch\"") == std::string::npos || line.find(pod.name) == std::string::npos) {
                 return false;
               }
               const auto record = nlohmann::json::parse(line, nullptr, false);
               if (!record.is_object() || !record.contains("user")) {
                 return false;
               }
               const auto extra = record["user"].value("extra", nlohmann::json::object());
               const auto names = extra.value("authentication.kubernetes.io/pod-name", nlohmann::json::array());
               return record.value("verb", "") == "watch" &&
                      record["user"].value("username", "") == user &&
                      record.value("objectRef", nlohmann::json::object()).value("resource", "") == "endpointslices" &&
                      std::find(names.begin(), names.end(), pod.name) != names.end();
             },
             Deadline::after(30s))
      .has_value();
}

long long ms_between(std::chrono::system_clock::time_point from, std::chrono::system_clock::time_point to) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(to - from).count();
}

} // namespace

TEST_CASE("deleting a pod under load through its ClusterIP: prestop runs in the container, nothing fails, nothing is lost") {
  auto& cluster = shared_cluster();
  const AgentRelease release(cluster, "under-load");
  const auto pods = release.live_pods();
  REQUIRE(pods.size() == 2);
  const PodRef& leaving = pods[0];
  const auto agent_log = release.follow_log(leaving, "agent");

  // From the host through kube-proxy's iptables rules, a task every 10 ms.
  LoadGenerator load(release.service_url(), 10ms, "load-");
  REQUIRE(lameduck::test::wait_until_holds_tasks(leaving));
  const auto deleted_at = release.delete_pod(leaving);
  const auto last = release.wait_gone(leaving, 60s);
  // The load goes on until the pod has left the Service and the sidecar's readiness with it.
  const auto result = load.stop();

  // What the kubelet did, in its own words: the hook, then SIGTERM, and a clean exit.
  const auto hook_started = wait_kubelet_log(cluster, leaving, "agent", "Running preStop hook", 5s);
  const auto hook_done = wait_kubelet_log(cluster, leaving, "agent", "PreStop hook completed", 5s);
  const auto killing = wait_kubelet_log(cluster, leaving, "agent", "Killing container with a grace period", 5s);
  wait_kubelet_log(cluster, leaving, "agent", "Container exited normally", 5s);
  CHECK(kubelet_log_time(hook_done) <= kubelet_log_time(killing));
  const auto terminated = lameduck::test::container_status(last, "agent")["state"]["terminated"];
  CAPTURE(terminated.dump());
  CHECK(terminated.value("exitCode", -1) == 0); // SIGTERM, handled: no SIGKILL (137)
  CHECK(terminated.value("reason", "") == "Completed");

  // prestop's summary: in the termination message and in `kubectl logs`, the same line.
  const auto summary = summary_of(last);
  CAPTURE(summary.dump());
  CHECK(summary["outcome"] == "drained");
  agent_log->wait_exit(Deadline::after(10s));
  const auto logged = first_event(json_lines(*agent_log), "prestop.summary");
  REQUIRE(logged);
  CHECK(*logged == summary);

  // The quiet phase read the pod's sockets in the real container, through the kernel's
  // sock_diag. Whether it saw kube-proxy's last connection depends on a race the test does not
  // control: kube-proxy usually drops the endpoint before the kubelet starts the hook (the
  // controller marks it terminating at the deletion), so there may be nothing left to see. What
  // holds either way: prestop drained only after --until-quiet without a byte or a connection.
  const auto quiet = phase_of(*logged, "quiet");
  CHECK(quiet.value("outcome", "") == "done");
  CHECK(quiet.value("source", "") == "sock_diag");
  long long quiet_ended_ms = 0; // from prestop's start, as the sightings are: the phases run one after another
  for (const auto& phase : logged->at("phases")) {
    quiet_ended_ms += phase.at("ms").get<long long>();
    if (phase.at("phase") == "quiet") break;
  }
  for (const auto* sighting : {"lastConnectionMs", "lastByteMs"}) {
    if (quiet.contains(sighting)) {
      // Whole milliseconds summed over four phases: a few of rounding.
      CHECK(quiet_ended_ms - quiet.at(sighting).get<long long>() >= quiet.at("quietMs").get<long long>() - 5);
    }
  }

  // Every accepted task is either written by the leaving agent or held by the one that stays.
  auto kept = lameduck::test::tasks_written(*agent_log);
  for (const auto& pod : release.live_pods()) {
    const auto held = lameduck::test::tasks_held(pod);
    kept.insert(held.begin(), held.end());
  }
  const int lost = lameduck::test::lost_tasks(result.accepted, kept);
  MESSAGE("through the ClusterIP: " << result.sent << " requests, " << result.failed << " failed, " << lost
          << " tasks lost; kubectl delete -> the kubelet runs the hook " << ms_between(deleted_at, kubelet_log_time(hook_started))
          << " ms, hook " << ms_between(kubelet_log_time(hook_started), kubelet_log_time(hook_done))
          << " ms; last new connection at +" << quiet.value("lastConnectionMs", -1LL) << " ms from "
          << quiet.value("lastConnectionFrom", "?") << ", quiet phase " << quiet.value("ms", -1LL) << " ms");
  CAPTURE(result.failures);
  CHECK(result.failed == 0);
  CHECK(lost == 0);
  CHECK(lameduck::test::tasks_written(*agent_log).size() > 0);
}

TEST_CASE("a termination costs one pod GET, one EndpointSlice LIST, one Event, and nothing else") {
  auto& cluster = shared_cluster();
  const AgentRelease release(cluster, "one-stop");
  const auto pods = release.live_pods();
  REQUIRE(pods.size() == 2);
  const PodRef& pod = pods[0];
  const auto agent_log = release.follow_log(pod, "agent");

  const auto deleted_at = release.delete_pod(pod);
  const auto summary = summary_of(release.wait_gone(pod, 60s));
  CAPTURE(summary.dump());
  CHECK(summary["outcome"] == "drained");
  for (const auto& phase : summary["phases"]) {
    CHECK(phase["outcome"] != "gave_up");
  }

  // No WATCH: the real EndpointSlice controller marks the endpoint terminating as soon as the
  // deletion is written, before the kubelet has even started the hook, so the LIST already
  // shows the pod not ready.
  const auto requests =
      lameduck::test::audited_requests_of_pod(cluster, release.service_account(), release.namespace_name(), pod.name);
  const std::map<std::string, int> expected{{"get pods", 1}, {"list endpointslices", 1}, {"create events", 1}};
  CAPTURE(requests);
  CHECK(requests == expected);

  // The Event prestop posted, as `kubectl get events` shows it for the pod.
  const auto events = cluster.kubectl({"get", "events", "-n", release.namespace_name(), "--field-selector",
                                       "involvedObject.name=" + pod.name, "-o", "json"});
  REQUIRE(events.exit_code == 0);
  bool drained_event = false;
  const auto listed = nlohmann::json::parse(events.stdout_text);
  for (const auto& event : listed["items"]) {
    drained_event = drained_event || event.value("reason", "") == "LameduckDrained";
  }
  CHECK(drained_event);

  // From `kubectl delete` to the agent's drain (its own log line), through the real
  // controller and the real kubelet; and how long prestop waited on the endpoints (the quiet
  // phase, with --min-delay as its floor, comes after).
  agent_log->wait_exit(Deadline::after(10s));
  const auto drain_started = first_event(json_lines(*agent_log), "drain.started");
  REQUIRE(drain_started);
  const auto drain_ms = ms_between(deleted_at, parse_log_time(drain_started->value("ts", "")));
  const auto endpoints_wait_ms = phase_of(summary, "endpoints").value("ms", 0LL);
  CHECK(drain_ms < 10000);

  // The same figures on the simulated node and the fake API server, for comparison.
  const lameduck::test::TempDir dir;
  lameduck::sim::ClusterOptions options;
  options.state_dir = dir.file("node");
  options.task_time = 1s;
  lameduck::sim::SimCluster simulated(options);
  auto& leaving = simulated.add_pod("leaving");
  auto& staying = simulated.add_pod("staying");
  REQUIRE(simulated.wait_ready(leaving, Deadline::after(10s)));
  REQUIRE(simulated.wait_ready(staying, Deadline::after(10s)));
  const auto sim_deleted_at = std::chrono::system_clock::now();
  simulated.delete_pod(leaving);
  REQUIRE(simulated.wait_gone(leaving, Deadline::after(30s)));
  std::optional<std::chrono::system_clock::time_point> sim_drain_accepted;
  for (const auto& line : leaving.prestop_log()) {
    const auto json = nlohmann::json::parse(line, nullptr, false);
    if (json.is_object() && json.value("event", "") == "drain.accepted" && !sim_drain_accepted) {
      sim_drain_accepted = parse_log_time(json.value("ts", ""));
    }
  }
  REQUIRE(sim_drain_accepted);
  MESSAGE("deletion -> drain: real node " << drain_ms << " ms, simulated " << ms_between(sim_deleted_at, *sim_drain_accepted)
          << " ms; prestop's wait on the endpoints: " << endpoints_wait_ms << " ms");
}

TEST_CASE("a slice another controller keeps ready: prestop watches it, one WATCH and nothing more") {
  auto& cluster = shared_cluster();
  const AgentRelease release(cluster, "watched",
                             {{"replicas", 1}, {"lameduck", {{"prestop", {{"services", {"mesh"}}}}}}});
  const PodRef pod = release.live_pods().at(0);
  write_managed_slice(cluster, release, pod, true, true);
  release.delete_pod(pod);
  REQUIRE(wait_for_watch(cluster, release, pod));
  const auto changed_at = std::chrono::system_clock::now();
  write_managed_slice(cluster, release, pod, false, false);
  const auto summary = summary_of(release.wait_gone(pod, 60s));

  const auto requests =
      lameduck::test::audited_requests_of_pod(cluster, release.service_account(), release.namespace_name(), pod.name);
  const std::map<std::string, int> expected{
      {"get pods", 1}, {"list endpointslices", 1}, {"watch endpointslices", 1}, {"create events", 1}};
  CAPTURE(requests);
  CHECK(requests == expected);
  CAPTURE(summary.dump());
  CHECK(summary["outcome"] == "drained");
  const auto endpoints = phase_of(summary, "endpoints");
  CHECK(endpoints.value("verdict", "") == "not_ready");
  MESSAGE("the watched slice changes -> prestop's drain: "
          << ms_between(changed_at, parse_log_time(summary.value("ts", ""))) << " ms (kubectl replace included)");
}

TEST_CASE("a Role without watch: prestop meets the real 403 and falls back to --fallback-delay") {
  auto& cluster = shared_cluster();
  const AgentRelease release(
      cluster, "no-watch",
      {{"replicas", 1},
       {"lameduck", {{"prestop", {{"services", {"mesh"}}, {"fallbackDelay", "1s"}, {"events", false}}}}}});
  const auto patched = cluster.kubectl({"patch", "role", release.service_account(), "-n", release.namespace_name(),
                                        "--type=json", "-p",
                                        R"([{"op":"replace","path":"/rules/0/verbs","value":["get","list"]}])"});
  REQUIRE(patched.exit_code == 0);
  const PodRef pod = release.live_pods().at(0);
  write_managed_slice(cluster, release, pod, true, true);
  release.delete_pod(pod);
  const auto summary = summary_of(release.wait_gone(pod, 60s));
  CAPTURE(summary.dump());
  const auto endpoints = phase_of(summary, "endpoints");
  CHECK(endpoints.value("fallbackMs", 0) == 1000);
  // The API server's own message, word for word, as the termination message carries it.
  CHECK(endpoints.value("reason", "").find(
            "endpointslices.discovery.k8s.io is forbidden: User \"system:serviceaccount:no-watch:"
            "no-watch-lameduck\" cannot watch resource \"endpointslices\" in API group "
            "\"discovery.k8s.io\" in the namespace \"no-watch\"") != std::string::npos);
}

TEST_CASE("kubectl delete --grace-period=5 and a hung agent: prestop is out before the kubelet's SIGKILL") {
  auto& cluster = shared_cluster();
  // An agent whose flush never ends, so that prestop runs to its deadline.
  nlohmann::json values = {{"replicas", 1},
                           {"lameduck", {{"prestop", {{"margin", "1s"}, {"events", false}}}}}};
  values["args"] = lameduck::test::test_values()["args"];
  values["args"].push_back("--flush-time=1h");
  const AgentRelease release(cluster, "hurried", values);
  const PodRef pod = release.live_pods().at(0);
  const auto deleted_at = release.delete_pod(pod, 5);
  const auto last = release.wait_gone(pod, 30s);

  // The kubelet's own account: it gives the hook the 5 s, then SIGTERM with what is left (at
  // least 2 s), and SIGKILL only after that.
  const auto hook_started = wait_kubelet_log(cluster, pod, "agent", "Running preStop hook", 5s);
  const auto hook_done = wait_kubelet_log(cluster, pod, "agent", "PreStop hook completed", 5s);
  const auto killing = wait_kubelet_log(cluster, pod, "agent", "Killing container with a grace period", 5s);
  const auto hook_ms = ms_between(kubelet_log_time(hook_started), kubelet_log_time(hook_done));
  MESSAGE("grace period 5 s (the spec says 15): the kubelet ran the hook for " << hook_ms << " ms, "
          << ms_between(deleted_at, kubelet_log_time(hook_done)) << " ms after kubectl delete; then SIGTERM with "
          << killing.value("gracePeriod", 0) << " s to go");
  CHECK(hook_ms < 5000);
  const auto terminated = lameduck::test::container_status(last, "agent")["state"]["terminated"];
  CAPTURE(terminated.dump());
  CHECK(terminated.value("exitCode", -1) != 137);
  const auto summary = summary_of(last);
  CAPTURE(summary.dump());
  CHECK(summary["deadlineFrom"] == "deletionTimestamp");
  CHECK(summary["budgetMs"].get<long long>() <= 4000);
}
