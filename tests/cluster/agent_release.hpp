#pragma once

// The lameduck-agent chart installed by the real helm into a namespace of its own that enforces
// PodSecurity "restricted", with the demo agent as the agent, and what the tests read back: the
// release's pods and their last status, their containers' logs, what the kubelet logged about
// them, and the API server's audit log.

#include "pod_trail.hpp"
#include "support/real_cluster.hpp"

#include <nlohmann/json.hpp>

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace lameduck::test {

struct PodRef {
  std::string name;
  std::string uid;
  std::string ip;
};

class AgentRelease {
public:
  // helm install --wait; `values` go over the test defaults (values.json in the chart's terms).
  AgentRelease(RealCluster& cluster, std::string name, nlohmann::json values = nlohmann::json::object());

  const std::string& name() const { return m_name; }
  const std::string& namespace_name() const { return m_name; }
  std::string service_account() const { return m_name + "-lameduck"; }

  // The release's pods that are not terminating, Ready or not.
  std::vector<PodRef> live_pods() const;
  // `kubectl delete pod` without waiting; returns the wall-clock time just before it ran.
  std::chrono::system_clock::time_point delete_pod(const PodRef& pod, std::optional<int> grace_seconds = {}) const;
  // `kubectl logs -f` of a container, from its start until it ends: prestop's summary and the
  // agent's own lines, as an operator reads them.
  std::unique_ptr<Process> follow_log(const PodRef& pod, const std::string& container) const;
  // `kubectl logs` of a running container: its JSON lines so far. A kubectl still running at
  // `limit` is stopped, and that is an error.
  std::vector<nlohmann::json> log_lines(const PodRef& pod, const std::string& container,
                                        Duration limit = std::chrono::seconds{60}) const;
  // Until the pod is deleted from the API: its last status, as the kubelet wrote it.
  nlohmann::json wait_gone(const PodRef& pod, Duration limit) const;
  const PodTrail& trail() const { return *m_trail; }
  // The Service's ClusterIP address and port, which kube-proxy's iptables rules route.
  std::string service_url() const;
  // `kubectl rollout status` until the Deployment's rollout is complete.
  void wait_rolled_out(Duration limit) const;

private:
  RealCluster& m_cluster;
  std::string m_name;
  std::unique_ptr<PodTrail> m_trail;
};

// Until the kubelet logged `message` for a container of the pod (its log at verbosity 3, one
// JSON object a line): that line.
nlohmann::json wait_kubelet_log(const RealCluster& cluster, const PodRef& pod, const std::string& container,
                                const std::string& message, Duration limit);
// The time a kubelet log line carries ("ts": milliseconds since the epoch).
std::chrono::system_clock::time_point kubelet_log_time(const nlohmann::json& line);

// The JSON lines of a followed log, and the first one with "event": `event`.
std::vector<nlohmann::json> json_lines(const Process& log);
std::vector<nlohmann::json> json_lines(const std::string& text);
std::optional<nlohmann::json> first_event(const std::vector<nlohmann::json>& lines, const std::string& event);

// The task ids the demo agent kept: what it wrote to its state file as it drained (its
// "state.written" lines), or what a running one holds (GET /tasks on the pod's address).
std::set<std::string> tasks_written(const Process& agent_log);
std::set<std::string> tasks_held(const PodRef& pod);
// The accepted task ids that none of `kept` holds.
int lost_tasks(const std::set<std::string>& accepted, const std::set<std::string>& kept);
// Until kube-proxy has routed some of the load to the pod: it holds a task.
bool wait_until_holds_tasks(const PodRef& pod);

// The chart, with its library chart dependency built, in a copy of the repository's helm/.
std::string built_chart(const RealCluster& cluster);

// The values every release in these tests starts from.
nlohmann::json test_values();

// The audit log's records of what one pod's service-account token did: "verb resource" -> count
// of distinct requests (a watch is logged when it starts and again when it ends).
std::map<std::string, int> audited_requests_of_pod(const RealCluster& cluster, const std::string& service_account,
                                                   const std::string& namespace_name, const std::string& pod);

// An RFC 3339 time as the API server or prestop writes it ("2026-11-28T12:00:00.123Z").
std::chrono::system_clock::time_point parse_log_time(const std::string& text);

} // namespace lameduck::test
