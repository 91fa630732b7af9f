// One pod's termination through the real control plane: the node runs the chart's preStop
// hook in the agent's container, prestop reads the pod and watches its EndpointSlices with the
// pod's own bound service-account token under the chart's Role, and the real EndpointSlice
// controller marks the endpoint terminating. The API server's audit log shows every request.

#include "agent_release.hpp"
#include "sim/sim_cluster.hpp"
#include "support/temp_dir.hpp"

#include <doctest/doctest.h>

#include <array>
#include <poll.h>
#include <sstream>
#include <sys/inotify.h>
#include <unistd.h>

using namespace std::chrono_literals;
using lameduck::test::AgentRelease;
using lameduck::test::PodRef;
using lameduck::test::parse_log_time;
using lameduck::test::shared_cluster;

namespace {

nlohmann::json summary_of(const AgentRelease& release, const PodRef& pod) {
  const auto log = release.gone_termination_log(pod, "agent");
  return nlohmann::json::parse(log.substr(0, log.find('\n')));
}

std::vector<nlohmann::json> json_lines(const std::vector<std::string>& lines);

// prestop's own log lines: the node keeps a hook's output beside the container's log.
std::vector<nlohmann::json> prestop_log(const AgentRelease& release, const PodRef& pod) {
  std::vector<std::string> lines;
  std::istringstream in(release.hook_log(pod, "agent"));
  for (std::string line; std::getline(in, line);) {
    lines.push_back(line);
  }
  return json_lines(lines);
}

std::vector<nlohmann::json> json_lines(const std::vector<std::string>& lines) {
  std::vector<nlohmann::json> parsed;
  for (const auto& line : lines) {
    auto json = nlohmann::json::parse(line, nullptr, false);
    if (json.is_object()) {
      parsed.push_back(std::move(json));
    }
  }
  return parsed;
}

std::optional<std::chrono::system_clock::time_point> logged_at(const std::vector<nlohmann::json>& lines,
                                                               const std::string& event, const std::string& phase = {}) {
  for (const auto& line : lines) {
    if (line.value("event", "") == event && (phase.empty() || line.value("phase", "") == phase)) {
      return parse_log_time(line.value("ts", ""));
    }
  }
  return std::nullopt;
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

// Until the audit log shows the pod's service account watching EndpointSlices: read again each
// time the API server appends to it (inotify), never more than the deadline allows.
bool wait_for_watch(const lameduck::test::RealCluster& cluster, const AgentRelease& release, const PodRef& pod) {
  const auto deadline = lameduck::Deadline::after(30s);
  const int notify = ::inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
  REQUIRE(notify >= 0);
  REQUIRE(::inotify_add_watch(notify, cluster.env().audit_log.c_str(), IN_MODIFY) >= 0);
  bool seen = false;
  while (!seen) {
    // Read after the watch is in place, so that no append falls between the two.
    seen = lameduck::test::audited_requests_of_pod(cluster, release.service_account(), release.namespace_name(),
                                                   pod.name)
               .count("watch endpointslices") != 0;
    if (seen || deadline.expired()) {
      break;
    }
    pollfd ready{notify, POLLIN, 0};
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline.when() - lameduck::Clock::now());
    if (::poll(&ready, 1, static_cast<int>(std::max<long long>(left.count(), 0))) > 0) {
      std::array<char, 4096> events;
      while (::read(notify, events.data(), events.size()) > 0) {
      }
    }
  }
  ::close(notify);
  return seen;
}

long long ms_between(std::chrono::system_clock::time_point from, std::chrono::system_clock::time_point to) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(to - from).count();
}

} // namespace

TEST_CASE("a termination costs one pod GET, one EndpointSlice LIST, one Event, and nothing else") {
  auto& cluster = shared_cluster();
  const AgentRelease release(cluster, "one-stop");
  const auto pods = release.live_pods();
  REQUIRE(pods.size() == 2);
  const PodRef& pod = pods[0];

  const auto deleted_at = release.delete_pod(pod);
  release.wait_node_event(pod, "pod.gone", 60s);

  const auto summary = summary_of(release, pod);
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

  // From `kubectl delete` to prestop's verdict (the endpoint no longer ready, less the
  // --min-delay it then waits) and to the agent's drain, through the real controller.
  const auto lines = prestop_log(release, pod);
  const auto endpoints_done = logged_at(lines, "phase.done", "endpoints");
  const auto drain_accepted = logged_at(lines, "drain.accepted");
  REQUIRE(endpoints_done);
  REQUIRE(drain_accepted);
  const auto verdict_ms = ms_between(deleted_at, *endpoints_done) - 500;
  const auto drain_ms = ms_between(deleted_at, *drain_accepted);
  CHECK(verdict_ms < 10000);
  CHECK(drain_ms >= verdict_ms);

  // The same figures on the simulated node and the fake API server, for comparison.
  const lameduck::test::TempDir dir;
  lameduck::sim::ClusterOptions options;
  options.state_dir = dir.file("node");
  options.task_time = 1s;
  lameduck::sim::SimCluster simulated(options);
  auto& leaving = simulated.add_pod("leaving");
  auto& staying = simulated.add_pod("staying");
  REQUIRE(simulated.wait_ready(leaving, lameduck::Deadline::after(10s)));
  REQUIRE(simulated.wait_ready(staying, lameduck::Deadline::after(10s)));
  const auto sim_deleted_at = std::chrono::system_clock::now();
  simulated.delete_pod(leaving);
  REQUIRE(simulated.wait_gone(leaving, lameduck::Deadline::after(30s)));
  const auto sim_lines = json_lines(leaving.prestop_log());
  const auto sim_endpoints_done = logged_at(sim_lines, "phase.done", "endpoints");
  const auto sim_drain_accepted = logged_at(sim_lines, "drain.accepted");
  REQUIRE(sim_endpoints_done);
  REQUIRE(sim_drain_accepted);
  MESSAGE("deletion -> prestop's verdict: real control plane " << verdict_ms << " ms, fake "
          << ms_between(sim_deleted_at, *sim_endpoints_done) - 500 << " ms; deletion -> drain: real " << drain_ms
          << " ms, fake " << ms_between(sim_deleted_at, *sim_drain_accepted) << " ms");
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
  release.wait_node_event(pod, "pod.gone", 60s);

  const auto requests =
      lameduck::test::audited_requests_of_pod(cluster, release.service_account(), release.namespace_name(), pod.name);
  const std::map<std::string, int> expected{
      {"get pods", 1}, {"list endpointslices", 1}, {"watch endpointslices", 1}, {"create events", 1}};
  CAPTURE(requests);
  CHECK(requests == expected);
  const auto lines = prestop_log(release, pod);
  const auto endpoints_done = logged_at(lines, "phase.done", "endpoints");
  REQUIRE(endpoints_done);
  MESSAGE("the watched slice changes -> prestop's verdict: " << ms_between(changed_at, *endpoints_done) - 500
                                                             << " ms (kubectl replace included)");
  CHECK(summary_of(release, pod)["outcome"] == "drained");
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
  release.wait_node_event(pod, "pod.gone", 60s);

  const auto lines = prestop_log(release, pod);
  std::string fallback_reason;
  for (const auto& line : lines) {
    if (line.value("event", "") == "endpoints.fallback") {
      fallback_reason = line.value("msg", "");
    }
  }
  CAPTURE(fallback_reason);
  // The API server's own message, word for word.
  CHECK(fallback_reason.find("endpointslices.discovery.k8s.io is forbidden: User \"system:serviceaccount:no-watch:"
                             "no-watch-lameduck\" cannot watch resource \"endpointslices\" in API group "
                             "\"discovery.k8s.io\" in the namespace \"no-watch\"") != std::string::npos);
  const auto summary = summary_of(release, pod);
  CAPTURE(summary.dump());
  for (const auto& phase : summary["phases"]) {
    if (phase["phase"] == "endpoints") {
      CHECK(phase["fallbackMs"] == 1000);
    }
  }
}

TEST_CASE("kubectl delete --grace-period=5 shortens prestop's deadline through the real deletionTimestamp") {
  auto& cluster = shared_cluster();
  // An agent whose flush never ends, so that prestop runs to its deadline.
  nlohmann::json values = {{"replicas", 1},
                           {"lameduck", {{"prestop", {{"margin", "1s"}, {"events", false}}}}}};
  values["args"] = lameduck::test::test_values()["args"];
  values["args"].push_back("--flush-time=1h");
  const AgentRelease release(cluster, "hurried", values);
  const PodRef pod = release.live_pods().at(0);
  const auto deleted_at = release.delete_pod(pod, 5);
  const auto hook_exited = release.wait_node_event(pod, "prestop.exited", 30s);
  release.wait_node_event(pod, "pod.gone", 30s);
  const auto hook_ms = ms_between(deleted_at, parse_log_time(hook_exited.value("time", "")));
  MESSAGE("grace period 5 s (the spec says 15): prestop out " << hook_ms << " ms after the deletion");
  // deletionTimestamp has whole seconds: the deadline is 4 to 5 s after it, less the margin.
  CHECK(hook_ms < 4500);
  const auto summary = summary_of(release, pod);
  CHECK(summary["deadlineFrom"] == "deletionTimestamp");
  CHECK(summary["budgetMs"].get<long long>() <= 4000);
}
