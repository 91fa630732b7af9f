#pragma once

// Every pod of one namespace as the API server last had it, from a watch that runs as long as
// the object: a pod the kubelet has finished with is deleted from the API, and its DELETED
// event carries the status the kubelet last wrote (each container's exit code, reason and
// termination message), which nothing else keeps once the pod is gone.

#include "lameduck/kube/kube_client.hpp"

#include <nlohmann/json.hpp>

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

namespace lameduck::test {

class PodTrail {
public:
  PodTrail(const KubeConfig& api, std::string namespace_name);
  ~PodTrail();
  PodTrail(const PodTrail&) = delete;
  PodTrail& operator=(const PodTrail&) = delete;

  // Until the pod with this uid is deleted from the API: its last state.
  std::optional<nlohmann::json> wait_deleted(const std::string& uid, const Deadline& deadline) const;
  // Until `matches` holds for the pod with this uid as last seen: that state.
  std::optional<nlohmann::json> wait_for(const std::string& uid,
                                         const std::function<bool(const nlohmann::json&)>& matches,
                                         const Deadline& deadline) const;

  // How long the pod took to go: from the first state this watch saw with a deletionTimestamp
  // to its deletion from the API. (The deletionTimestamp itself cannot tell: the kubelet's
  // last delete moves it to the end.)
  std::optional<std::chrono::milliseconds> termination_time(const std::string& uid) const;

private:
  void run();
  void seen(const nlohmann::json& pod, bool deleted);
  // Waits out a retry pause; false when the trail is stopping.
  bool pause_before_retry();

  std::string m_path;
  Logger m_logger{"pod-trail", LogFormat::json, LogLevel::error, [](std::string_view) {}};
  KubeClient m_client;

  mutable std::mutex m_mutex;
  mutable std::condition_variable m_changed;
  std::map<std::string, nlohmann::json> m_last; // uid -> the pod as last seen
  std::map<std::string, std::chrono::steady_clock::time_point> m_deleting; // first seen terminating
  std::map<std::string, std::chrono::steady_clock::time_point> m_deleted;
  std::string m_resource_version;
  bool m_listed = false;
  std::atomic<bool> m_stopping{false};
  std::thread m_watcher;
};

// A container's state in a pod's status ("terminated": {exitCode, reason, message, ...}), init
// and sidecar containers included; null when the pod has no such container.
nlohmann::json container_status(const nlohmann::json& pod, const std::string& container);

} // namespace lameduck::test
