#pragma once

// The pod's own object, for what the downward API cannot give: when the kubelet will kill it
// (metadata.deletionTimestamp and deletionGracePeriodSeconds, set on deletion), and the ports its
// containers serve on (spec.containers[].ports), where consumers' traffic arrives.

#include "lameduck/core/rfc3339.hpp"
#include "lameduck/kube/kube_client.hpp"

#include <optional>
#include <vector>

namespace lameduck {

struct OwnPod {
  std::optional<WallClock::time_point> deletion_timestamp;
  std::optional<long long> deletion_grace_period_seconds;
  // The TCP containerPorts of spec.containers, sorted, each once. Init containers (sidecars
  // such as readyz-toggle, whose port only the kubelet's probes reach) are left out.
  std::vector<int> serving_ports;
};

Expected<OwnPod, KubeError> read_own_pod(KubeClient& client, const std::string& namespace_name,
                                         const std::string& pod_name, const Deadline& deadline);

} // namespace lameduck
