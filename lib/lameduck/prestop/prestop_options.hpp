#pragma once

// Everything prestop is told, from flags or LAMEDUCK_<FLAG> (contract §5).

#include "lameduck/core/duration.hpp"
#include "lameduck/drain/drain_flags.hpp"
#include "lameduck/drain/drain_step.hpp"
#include "lameduck/drain/termination_id.hpp"
#include "lameduck/kube/pod_identity.hpp"
#include "lameduck/readiness/readiness_client.hpp"
#include "lameduck/registry/deregistration.hpp"

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace lameduck {

using namespace std::chrono_literals;

struct PrestopOptions {
  Duration grace_period = 30s;
  Duration margin = 3s;
  std::string readyz_url = k_default_readyz_url;
  DeregistrationOptions deregistration;
  Duration deregister_timeout = 5s;
  std::vector<std::string> services;
  std::optional<Duration> endpoints_timeout; // default: half the budget (after deregistration)
  Duration min_delay = 2s;
  Duration fallback_delay = 10s;
  Duration until_quiet = 1s;              // 0: no quiet phase
  std::vector<int> quiet_ports;           // default: the pod's spec.containers[].ports
  std::optional<Duration> quiet_timeout;  // default: half of what is left when the phase starts
  DrainFlags drain;                    // drain.drain_url: the first --drain-url, the agent's
  std::vector<DrainStep> drain_steps;  // --drain-url and --drain-step in order; empty: drain.drain_url alone
  std::string termination_id;
  std::string termination_log = "/dev/termination-log";
  std::string container_stdout = "/proc/1/fd/1"; // where `kubectl logs` looks; empty: nowhere
  bool event = false;
  std::string notify_url;
  std::string state_dir = k_default_state_dir;
  bool plan = false;
  bool hold_until_drained = false;     // a sidecar's own preStop: wait for the agent's prestop, nothing else
  PodIdentityFlags pod;
  std::string kube_api;
  std::string kube_token_file;
  std::string kube_ca_file;
};

} // namespace lameduck
