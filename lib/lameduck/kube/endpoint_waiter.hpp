#pragma once

// Phase 2 of prestop: returns as soon as no Service still sends this pod new traffic, that is
// when the pod is absent or conditions.ready == false in every EndpointSlice that matters
// (the given Services' slices, or every slice in the namespace). One LIST, then one WATCH from
// its resourceVersion; a 410 relists, a broken watch resumes, each bounded by the Deadline.

#include "lameduck/core/deadline.hpp"
#include "lameduck/core/log.hpp"
#include "lameduck/kube/endpoint_slice.hpp"
#include "lameduck/kube/kube_client.hpp"

#include <string>
#include <vector>

namespace lameduck {

struct EndpointWaitRequest {
  std::string namespace_name;
  std::vector<std::string> services; // none: every slice in the namespace
  PodMatch pod;
};

enum class EndpointVerdict {
  not_ready,    // the condition is met
  timeout,      // the deadline came first
  api_unusable, // 401/403, unreachable, or a watch that keeps failing
};

struct EndpointWaitResult {
  EndpointVerdict verdict = EndpointVerdict::timeout;
  std::string reason;
  Duration elapsed{};
};

std::string_view endpoint_verdict_name(EndpointVerdict verdict);

EndpointWaitResult wait_until_endpoint_not_ready(KubeClient& client, const EndpointWaitRequest& request,
                                                 const Deadline& deadline, const Logger& logger);

} // namespace lameduck
