#pragma once

// Who this pod is, from the downward API environment (POD_NAME, POD_NAMESPACE, POD_UID,
// POD_IP, POD_IPS), the flags that override it, and the service account's namespace file.

#include "lameduck/core/environment.hpp"

#include <filesystem>
#include <string>
#include <vector>

namespace lameduck {

inline const std::filesystem::path k_service_account_dir = "/var/run/secrets/kubernetes.io/serviceaccount";

struct PodIdentity {
  std::string name;
  std::string namespace_name;
  std::string uid;
  // The primary IP first, then the others of a dual-stack pod; no duplicates.
  std::vector<std::string> ips;
};

// What --pod-name, --pod-namespace, --pod-uid and --pod-ip say; empty means not given.
struct PodIdentityFlags {
  std::string name;
  std::string namespace_name;
  std::string uid;
  std::string ip;
};

// Flags win over the environment; the namespace falls back to the service account's file.
// Fields nobody provides stay empty: callers decide what they cannot do without.
PodIdentity resolve_pod_identity(const PodIdentityFlags& flags, const Environment& environment,
                                 const std::filesystem::path& service_account_dir = k_service_account_dir);

} // namespace lameduck
