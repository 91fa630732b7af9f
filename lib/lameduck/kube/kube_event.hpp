#pragma once

// `prestop --event`: a Kubernetes Event on the pod, so `kubectl describe pod` and event
// pipelines show how the termination went (reason LameduckDrained or LameduckGaveUp).

#include "lameduck/kube/kube_client.hpp"
#include "lameduck/kube/pod_identity.hpp"

namespace lameduck {

Expected<Done, KubeError> post_pod_event(KubeClient& client, const PodIdentity& pod, bool drained,
                                         const std::string& message, const Deadline& deadline);

} // namespace lameduck
