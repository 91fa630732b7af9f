#include "lameduck/lint/workload.hpp"

namespace lameduck::lint {
namespace {

using nlohmann::json;

const char* pod_template_pointer(const std::string& kind) {
  if (kind == "Deployment" || kind == "StatefulSet" || kind == "DaemonSet" || kind == "ReplicaSet" || kind == "Job" ||
      kind == "ReplicationController") {
    return "/spec/template";
  }
  if (kind == "CronJob") {
    return "/spec/jobTemplate/spec/template";
  }
  return nullptr;
}

void add_containers(Workload& workload, const json& pod_spec, const char* key, bool init) {
  const auto list = pod_spec.find(key);
  if (list == pod_spec.end() || !list->is_array()) {
    return;
  }
  for (std::size_t i = 0; i < list->size(); ++i) {
    const json& container = (*list)[i];
    if (!container.is_object()) {
      continue;
    }
    const bool native_sidecar = init && string_at(container, "restartPolicy") == "Always";
    if (init && !native_sidecar) {
      continue;  // a plain init container has ended before the pod can be stopped
    }
    workload.containers.push_back({&container, workload.pod_spec_pointer + "/" + key + "/" + std::to_string(i),
                                   string_at(container, "name"), native_sidecar});
  }
}

} // namespace

std::string string_at(const json& parent, const char* key) {
  if (!parent.is_object()) {
    return "";
  }
  const auto found = parent.find(key);
  return found != parent.end() && found->is_string() ? found->get<std::string>() : "";
}

const json* object_at(const json& parent, const char* key) {
  if (!parent.is_object()) {
    return nullptr;
  }
  const auto found = parent.find(key);
  return found != parent.end() && found->is_object() ? &*found : nullptr;
}

std::map<std::string, std::string> string_map(const json* mapping) {
  std::map<std::string, std::string> values;
  if (mapping == nullptr || !mapping->is_object()) {
    return values;
  }
  for (const auto& [key, value] : mapping->items()) {
    if (value.is_string()) {
      values[key] = value.get<std::string>();
    }
  }
  return values;
}

std::optional<Workload> workload_of(const ManifestObject& object) {
  Workload workload;
  workload.object = &object;
  const json& root = object.json();
  const json* metadata = object_at(root, "metadata");
  workload.annotations = string_map(metadata ? object_at(*metadata, "annotations") : nullptr);
  if (object.kind == "Pod") {
    workload.pod_spec = object_at(root, "spec");
    workload.pod_spec_pointer = "/spec";
    workload.labels = string_map(metadata ? object_at(*metadata, "labels") : nullptr);
  } else if (const char* template_pointer = pod_template_pointer(object.kind)) {
    const json* pod_template = root.is_object() ? &root : nullptr;
    // Walk "/spec/template" or "/spec/jobTemplate/spec/template" one key at a time.
    std::string rest = template_pointer;
    while (pod_template != nullptr && !rest.empty()) {
      const std::size_t next = rest.find('/', 1);
      const std::string key = rest.substr(1, next == std::string::npos ? std::string::npos : next - 1);
      pod_template = object_at(*pod_template, key.c_str());
      rest = next == std::string::npos ? "" : rest.substr(next);
    }
    if (pod_template == nullptr) {
      return std::nullopt;
    }
    const json* template_metadata = object_at(*pod_template, "metadata");
    workload.labels = string_map(template_metadata ? object_at(*template_metadata, "labels") : nullptr);
    for (const auto& [key, value] : string_map(template_metadata ? object_at(*template_metadata, "annotations") : nullptr)) {
      workload.annotations[key] = value;
    }
    workload.pod_spec = object_at(*pod_template, "spec");
    workload.pod_spec_pointer = std::string(template_pointer) + "/spec";
    if (object.kind == "Deployment" || object.kind == "StatefulSet" || object.kind == "ReplicaSet" ||
        object.kind == "ReplicationController") {
      workload.replicas = 1;
      if (const json* spec = object_at(root, "spec")) {
        if (const auto replicas = spec->find("replicas"); replicas != spec->end() && replicas->is_number_integer()) {
          workload.replicas = replicas->get<long long>();
        }
      }
    }
  } else {
    return std::nullopt;
  }
  if (workload.pod_spec == nullptr) {
    return std::nullopt;
  }
  if (const auto grace = workload.pod_spec->find("terminationGracePeriodSeconds");
      grace != workload.pod_spec->end() && grace->is_number_integer()) {
    workload.grace_seconds = grace->get<long long>();
    workload.grace_written = true;
  }
  add_containers(workload, *workload.pod_spec, "initContainers", true);
  add_containers(workload, *workload.pod_spec, "containers", false);
  return workload;
}

} // namespace lameduck::lint
