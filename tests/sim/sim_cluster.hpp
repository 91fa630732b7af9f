#pragma once

// A simulated node for end-to-end runs: pods made of real processes (the demo agent and its
// readyz-toggle sidecar, each on the pod's own 127.0.0.x address), a kubelet that probes and
// stops them by its real rules, and the EndpointSlice controller writing one Service's slice
// into the fake apiserver. Based on pkg/kubelet/kuberuntime (killContainer,
// executePreStopHook), pkg/kubelet/prober and the endpointslice controller's podToEndpoint.

#include "lameduck/core/deadline.hpp"
#include "support/fake_apiserver.hpp"
#include "support/process.hpp"

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace lameduck::sim {

struct ClusterOptions {
  std::string namespace_name = "payments";
  std::string service = "ledger-agent";
  Duration probe_period = std::chrono::milliseconds{100};
  Duration probe_timeout = std::chrono::seconds{1};
  int failure_threshold = 3;
  int success_threshold = 1;
  Duration controller_delay = std::chrono::milliseconds{20};
  int grace_seconds = 30; // the pod spec's terminationGracePeriodSeconds, and prestop's --grace-period
  bool api_down = false;  // prestop finds nothing listening where the API should be
  Duration task_time = std::chrono::seconds{2};
  std::vector<std::string> agent_flags; // more flags for the demo agent
  // The preStop exec command, after the binary: empty for a pod without a hook.
  bool with_prestop = true;
  std::vector<std::string> prestop_flags = {"--min-delay", "500ms"};
  // Another preStop exec command instead of prestop (argv, e.g. {"/bin/sleep", "30"}).
  std::vector<std::string> hook_command;
  // Put before prestop's argv, as a container runtime's sandbox would wrap it
  // (e.g. {tool_path("deny-netlink")}).
  std::vector<std::string> hook_wrapper;
  // The agent container declares its port (spec.containers[].ports), where prestop's quiet
  // phase looks for traffic by default.
  bool declare_ports = true;
  std::string state_dir; // where pods keep their files
};

struct TimelineEntry {
  Duration at;
  std::string pod;
  std::string what;
};

class SimCluster;

class SimPod {
public:
  const std::string& name() const { return m_name; }
  const std::string& ip() const { return m_ip; }
  std::string agent_url(const std::string& path) const;
  std::string state_file() const;
  bool ready() const { return m_ready.load(); }
  bool gone() const { return m_gone.load(); }
  // How the kubelet ended it: "exited" after SIGTERM, or "killed" when SIGKILL was needed.
  std::string ending() const;
  // What its last preStop hook wrote to stderr (prestop's JSON log lines), once it is over.
  std::vector<std::string> prestop_log() const;
  // What its agent has logged so far (the demo agent's JSON lines), kept after it exits. Not
  // while the kubelet restarts the container.
  std::vector<std::string> agent_log() const { return m_agent->stderr_lines(); }

private:
  friend class SimCluster;
  SimPod(SimCluster& cluster, std::string name, std::string uid, std::string ip);

  void start();
  void probe_loop();
  void terminate(bool delete_pod, int grace_seconds);

  SimCluster& m_cluster;
  std::string m_name;
  std::string m_uid;
  std::string m_ip;
  std::unique_ptr<test::Process> m_agent;
  std::unique_ptr<test::Process> m_readyz;
  std::atomic<bool> m_ready{false};
  std::atomic<bool> m_terminating{false};
  std::atomic<bool> m_gone{false};
  std::atomic<bool> m_stop_probing{false};
  std::string m_ending;
  std::vector<std::string> m_prestop_log;
  std::thread m_prober;
  std::thread m_killer;
};

class SimCluster {
public:
  explicit SimCluster(ClusterOptions options);
  ~SimCluster();

  test::FakeApiServer& api() { return m_api; }
  const ClusterOptions& options() const { return m_options; }
  int agent_port() const { return m_agent_port; }
  int readyz_port() const { return m_readyz_port; }

  // Starts a pod; it joins the Service once its readiness probe passes.
  SimPod& add_pod(const std::string& name);
  // `kubectl delete pod [--grace-period=N]`: deletionTimestamp, then preStop, SIGTERM, SIGKILL
  // by the kubelet's rules. Returns at once; wait_gone() waits for the end.
  void delete_pod(SimPod& pod, std::optional<int> grace_seconds = std::nullopt);
  // A liveness failure: the container is stopped the same way and started again; the pod is
  // not deleted, so only readiness takes it out of the Service.
  void restart_container(SimPod& pod);
  bool wait_gone(SimPod& pod, const Deadline& deadline);
  bool wait_ready(SimPod& pod, const Deadline& deadline);

  void note(const std::string& pod, const std::string& what);
  std::vector<TimelineEntry> timeline() const;
  std::vector<SimPod*> pods();

private:
  friend class SimPod;
  // The EndpointSlice controller: rewrites the Service's slice from the pods' state.
  void endpoints_changed();
  void write_slice();

  ClusterOptions m_options;
  test::FakeApiServer m_api;
  int m_agent_port = 0;
  int m_readyz_port = 0;
  Clock::time_point m_started = Clock::now();
  mutable std::mutex m_mutex;
  std::condition_variable m_changed;
  std::vector<std::unique_ptr<SimPod>> m_pods;
  std::vector<TimelineEntry> m_timeline;
  std::vector<std::thread> m_controller_writes;
  std::map<std::string, std::string> m_written; // each pod's conditions as last written
  int m_next_ip = 10;
};

} // namespace lameduck::sim
