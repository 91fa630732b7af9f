#pragma once

// The pod a workload object runs: where its pod spec sits (Pod: spec; Deployment, StatefulSet,
// DaemonSet, ReplicaSet, Job: spec.template.spec; CronJob: spec.jobTemplate.spec.template.spec),
// its labels, its replicas, and the containers the kubelet stops with a hook: spec.containers
// and native sidecars (initContainers with restartPolicy: Always).

#include "lameduck/lint/manifest.hpp"

#include <nlohmann/json.hpp>

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace lameduck::lint {

struct WorkloadContainer {
  const nlohmann::json* spec = nullptr;
  std::string pointer;  // from the object: "/spec/template/spec/containers/0"
  std::string name;
  bool native_sidecar = false;
};

struct Workload {
  const ManifestObject* object = nullptr;
  const nlohmann::json* pod_spec = nullptr;
  std::string pod_spec_pointer;                 // from the object
  std::map<std::string, std::string> labels;    // of the pods it makes
  std::optional<long long> replicas;            // Deployment, StatefulSet, ReplicaSet (default 1)
  long long grace_seconds = 30;                 // terminationGracePeriodSeconds
  bool grace_written = false;
  std::vector<WorkloadContainer> containers;

  // The annotations of the object and of its pod template, the template's winning.
  std::map<std::string, std::string> annotations;
};

// Nothing when the object runs no pod (a Service, a ConfigMap) or its pod spec is not a mapping.
std::optional<Workload> workload_of(const ManifestObject& object);

// The string values of a mapping (labels, annotations, selectors); others are left out.
std::map<std::string, std::string> string_map(const nlohmann::json* mapping);

// The string at `key` in `parent`, else "".
std::string string_at(const nlohmann::json& parent, const char* key);

// The object at `key` in `parent`, if it is one.
const nlohmann::json* object_at(const nlohmann::json& parent, const char* key);

} // namespace lameduck::lint
