#include "lameduck/kube/kube_event.hpp"

#include "lameduck/core/rfc3339.hpp"

namespace lameduck {

Expected<Done, KubeError> post_pod_event(KubeClient& client, const PodIdentity& pod, bool drained,
                                         const std::string& message, const Deadline& deadline) {
  std::string now = format_rfc3339(WallClock::now());
  now = now.substr(0, now.find('.')) + "Z"; // core/v1 Event timestamps are whole seconds
  const nlohmann::json event = {
      {"apiVersion", "v1"},
      {"kind", "Event"},
      {"metadata", {{"generateName", pod.name + ".lameduck-"}, {"namespace", pod.namespace_name}}},
      {"involvedObject",
       {{"apiVersion", "v1"}, {"kind", "Pod"}, {"name", pod.name}, {"namespace", pod.namespace_name}, {"uid", pod.uid}}},
      {"reason", drained ? "LameduckDrained" : "LameduckGaveUp"},
      {"message", message.substr(0, 1024)},
      {"type", drained ? "Normal" : "Warning"},
      {"source", {{"component", "lameduck-prestop"}}},
      {"reportingComponent", "lameduck-prestop"},
      {"reportingInstance", pod.name},
      {"firstTimestamp", now},
      {"lastTimestamp", now},
      {"count", 1}};
  const auto created = client.create("/api/v1/namespaces/" + url_encode(pod.namespace_name) + "/events", event,
                                     {"create", "events"}, deadline);
  if (!created) {
    return unexpected(created.error());
  }
  return Done{};
}

} // namespace lameduck
