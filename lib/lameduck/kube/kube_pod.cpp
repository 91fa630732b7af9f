#include "lameduck/kube/kube_pod.hpp"

namespace lameduck {

Expected<PodDeletion, KubeError> read_pod_deletion(KubeClient& client, const std::string& namespace_name,
                                                   const std::string& pod_name, const Deadline& deadline) {
  const auto pod = client.get("/api/v1/namespaces/" + url_encode(namespace_name) + "/pods/" + url_encode(pod_name),
                              {"get", "pods"}, deadline);
  if (!pod) {
    return unexpected(pod.error());
  }
  PodDeletion deletion;
  const auto metadata = pod->find("metadata");
  if (metadata == pod->end() || !metadata->is_object()) {
    return deletion;
  }
  if (const auto when = metadata->find("deletionTimestamp"); when != metadata->end() && when->is_string()) {
    const auto parsed = parse_rfc3339(when->get_ref<const std::string&>());
    if (!parsed) {
      return unexpected(KubeError{KubeErrorKind::invalid, 200, "the pod's deletionTimestamp: " + parsed.error().message});
    }
    deletion.deletion_timestamp = *parsed;
  }
  if (const auto grace = metadata->find("deletionGracePeriodSeconds");
      grace != metadata->end() && grace->is_number_integer()) {
    deletion.deletion_grace_period_seconds = grace->get<long long>();
  }
  return deletion;
}

} // namespace lameduck
