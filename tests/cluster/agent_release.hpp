#pragma once

// The lameduck-agent chart installed by the real helm into a namespace of its own that enforces
// PodSecurity "restricted", with the demo agent as the agent, and what the tests read back: the
// release's pods, what the node logged about them, what a pod left behind when it was gone,
// and the API server's audit log.

#include "support/real_cluster.hpp"

#include <nlohmann/json.hpp>

#include <map>
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
  // Until the node logged `event` for the pod; its JSON line.
  nlohmann::json wait_node_event(const PodRef& pod, const std::string& event, Duration limit) const;
  // What a container of a gone pod left behind: its termination log, and the output of its
  // lifecycle hooks (prestop's log lines), as the node keeps them.
  std::string gone_termination_log(const PodRef& pod, const std::string& container) const;
  std::string hook_log(const PodRef& pod, const std::string& container) const;
  // A file in one of a gone pod's volumes (an emptyDir the agent kept its state in, say).
  std::string gone_volume_file(const PodRef& pod, const std::string& volume, const std::string& file) const;
  // `kubectl rollout status` until the Deployment's rollout is complete.
  void wait_rolled_out(Duration limit) const;

private:
  std::string node_dir_name(const PodRef& pod) const { return m_name + "_" + pod.name + "_" + pod.uid; }

  RealCluster& m_cluster;
  std::string m_name;
};

// The chart, with its library chart dependency built, in a copy of the repository's helm/.
std::string built_chart(const RealCluster& cluster);

// The values every release in these tests starts from.
nlohmann::json test_values();

// The audit log's records of what one pod's service-account token did: "verb resource" -> count
// of distinct requests (a watch is logged when it starts and again when it ends).
std::map<std::string, int> audited_requests_of_pod(const RealCluster& cluster, const std::string& service_account,
                                                   const std::string& namespace_name, const std::string& pod);

// An RFC 3339 time as logged by the node ("2026-11-28T12:00:00.123456789Z") or prestop.
std::chrono::system_clock::time_point parse_log_time(const std::string& text);

} // namespace lameduck::test
