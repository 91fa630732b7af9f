#include "lameduck/kube/kube_pod.hpp"

#include <algorithm>

namespace lameduck {

namespace {

// A port without a protocol is TCP (the API server's default); a malformed entry is skipped,
// since the ports only choose which sockets the quiet phase watches.
std::vector<int> serving_ports_of(const nlohmann::json& pod) {
  std::vector<int> ports;
  const auto spec = pod.find("spec");
  if (spec == pod.end() || !spec->is_object()) {
    return ports;
  }
  const auto containers = spec->find("containers");
  if (containers == spec->end() || !containers->is_array()) {
    return ports;
  }
  for (const auto& container : *containers) {
    const auto declared = container.is_object() ? container.find("ports") : container.end();
    if (!container.is_object() || declared == container.end() || !declared->is_array()) {
      continue;
    }
    for (const auto& port : *declared) {
      if (!port.is_object() || port.value("protocol", "TCP") != "TCP") {
        continue;
      }
      const auto number = port.find("containerPort");
      if (number != port.end() && number->is_number_integer() && *number > 0 && *number <= 65535) {
        ports.push_back(number->get<int>());
      }
    }
  }
  std::sort(ports.begin(), ports.end());
  ports.erase(std::unique(ports.begin(), ports.end()), ports.end());
  return ports;
}

} // namespace

Expected<OwnPod, KubeError> read_own_pod(KubeClient& client, const std::string& namespace_name,
                                         const std::string& pod_name, const Deadline& deadline) {
  const auto pod = client.get("/api/v1/namespaces/" + url_encode(namespace_name) + "/pods/" + url_encode(pod_name),
                              {"get", "pods"}, deadline);
  if (!pod) {
    return unexpected(pod.error());
  }
  OwnPod own;
  own.serving_ports = serving_ports_of(*pod);
  const auto metadata = pod->find("metadata");
  if (metadata == pod->end() || !metadata->is_object()) {
    return own;
  }
  if (const auto when = metadata->find("deletionTimestamp"); when != metadata->end() && when->is_string()) {
    const auto parsed = parse_rfc3339(when->get_ref<const std::string&>());
    if (!parsed) {
      return unexpected(KubeError{KubeErrorKind::invalid, 200, "the pod's deletionTimestamp: " + parsed.error().message});
    }
    own.deletion_timestamp = *parsed;
  }
  if (const auto grace = metadata->find("deletionGracePeriodSeconds");
      grace != metadata->end() && grace->is_number_integer()) {
    own.deletion_grace_period_seconds = grace->get<long long>();
  }
  return own;
}

} // namespace lameduck
