#pragma once

// The pod's own object, for what the downward API cannot give: when the kubelet will kill it
// (metadata.deletionTimestamp and deletionGracePeriodSeconds, set on deletion).

#include "lameduck/core/rfc3339.hpp"
#include "lameduck/kube/kube_client.hpp"

#include <optional>

namespace lameduck {

struct PodDeletion {
  std::optional<WallClock::time_point> deletion_timestamp;
  std::optional<long long> deletion_grace_period_seconds;
};

Expected<PodDeletion, KubeError> read_pod_deletion(KubeClient& client, const std::string& namespace_name,
                                                   const std::string& pod_name, const Deadline& deadline);

} // namespace lameduck
