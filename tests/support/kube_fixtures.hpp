#pragma once

// Objects for the fake API server, shaped as a real apiserver serves them: a pod and the
// EndpointSlices of its Service, one per address family, the pod listed in both.

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace lameduck::test {

inline constexpr const char* k_namespace = "payments";
inline constexpr const char* k_pod_name = "ledger-agent-5c9b7d8f6-qwz4t";
inline constexpr const char* k_pod_uid = "e2b8c1f4-7a3d-4d6b-9c0e-5f1a2b3c4d5e";
inline constexpr const char* k_pod_ipv4 = "10.0.3.52";
inline constexpr const char* k_pod_ipv6 = "fd00:10:0:3::52";

inline nlohmann::json pod_object(const std::string& name = k_pod_name, const std::string& uid = k_pod_uid) {
  return {{"metadata", {{"name", name}, {"namespace", k_namespace}, {"uid", uid}, {"labels", {{"app", "ledger-agent"}}}}},
          {"spec", {{"terminationGracePeriodSeconds", 30}, {"containers", {{{"name", "agent"}, {"image", "agent:1"}}}}}},
          {"status", {{"phase", "Running"}, {"podIP", k_pod_ipv4},
                      {"conditions", {{{"type", "Ready"}, {"status", "True"}}}}}}};
}

inline nlohmann::json endpoint_entry(const std::string& address, const std::string& pod_uid, bool ready = true,
                                     const std::string& pod_name = k_pod_name) {
  return {{"addresses", {address}},
          {"conditions", {{"ready", ready}, {"serving", ready}, {"terminating", false}}},
          {"nodeName", "node-a"},
          {"targetRef", {{"kind", "Pod"}, {"namespace", k_namespace}, {"name", pod_name}, {"uid", pod_uid}}}};
}

inline nlohmann::json slice_object(const std::string& name, const std::string& service, const std::string& family,
                                   nlohmann::json endpoints) {
  return {{"metadata",
           {{"name", name},
            {"namespace", k_namespace},
            {"labels", {{"kubernetes.io/service-name", service},
                        {"endpointslice.kubernetes.io/managed-by", "endpointslice-controller.k8s.io"}}}}},
          {"addressType", family},
          {"endpoints", std::move(endpoints)},
          {"ports", {{{"name", "http"}, {"port", 8080}, {"protocol", "TCP"}}}}};
}

} // namespace lameduck::test
