#pragma once

// Where this pod stands in one discovery.k8s.io/v1 EndpointSlice. Follows the API's rules:
// every condition is optional (a missing `ready` means ready), `endpoints` may be null, the
// pod is matched by targetRef.uid, else by address, and unknown fields are ignored.

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace lameduck {

struct PodMatch {
  std::string uid;
  std::vector<std::string> ips;
};

enum class PodInSlice {
  absent,    // not listed
  ready,     // listed, and some entry for it has conditions.ready true (or missing)
  not_ready, // listed only with conditions.ready == false
};

PodInSlice pod_in_slice(const nlohmann::json& slice, const PodMatch& pod);

} // namespace lameduck
