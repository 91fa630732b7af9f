#include "pod_trail.hpp"

#include <stdexcept>

namespace lameduck::test {

namespace {

using namespace std::chrono_literals;

const KubeAccess k_watch_pods{"watch", "pods"};

} // namespace

PodTrail::PodTrail(const KubeConfig& api, std::string namespace_name)
    : m_path("/api/v1/namespaces/" + namespace_name + "/pods"), m_client(api, m_logger) {
  m_watcher = std::thread([this] { run(); });
  std::unique_lock lock(m_mutex);
  if (!m_changed.wait_for(lock, 30s, [this] { return m_listed; })) {
    m_stopping = true;
    lock.unlock();
    m_changed.notify_all();
    m_watcher.join();
    throw std::runtime_error("cannot list the pods of " + m_path);
  }
}

PodTrail::~PodTrail() {
  {
    const std::lock_guard lock(m_mutex);
    m_stopping = true;
  }
  m_changed.notify_all();
  m_watcher.join();
}

bool PodTrail::pause_before_retry() {
  // The API refused or broke off: try again after a moment, or at once when the trail is
  // being destroyed (the wake-up is the stop, not the time).
  std::unique_lock lock(m_mutex);
  return !m_changed.wait_for(lock, std::chrono::milliseconds{100}, [this] { return m_stopping.load(); });
}

void PodTrail::run() {
  while (!m_stopping) {
    std::string from;
    {
      const std::lock_guard lock(m_mutex);
      from = m_resource_version;
    }
    if (from.empty()) {
      auto listed = m_client.list(m_path, "", k_watch_pods, Deadline::after(10s));
      if (!listed) {
        pause_before_retry();
        continue;
      }
      for (const auto& pod : listed->items) {
        seen(pod, false);
      }
      const std::lock_guard lock(m_mutex);
      m_resource_version = listed->resource_version;
      m_listed = true;
      m_changed.notify_all();
      continue;
    }
    // Short watches, so that the object's end never waits long for the stream's.
    const auto watched = m_client.watch(m_path, "", from, 1s, k_watch_pods, Deadline::after(10s),
                                        [this](const WatchEvent& event) {
                                          if (event.type == "ADDED" || event.type == "MODIFIED" ||
                                              event.type == "DELETED") {
                                            seen(event.object, event.type == "DELETED");
                                          }
                                          return !m_stopping.load();
                                        });
    if (!watched && watched.error().kind == KubeErrorKind::gone) {
      const std::lock_guard lock(m_mutex);
      m_resource_version.clear();
    } else if (!watched) {
      pause_before_retry();
    }
  }
}

void PodTrail::seen(const nlohmann::json& pod, bool deleted) {
  const auto& metadata = pod.value("metadata", nlohmann::json::object());
  const std::string uid = metadata.value("uid", "");
  const std::lock_guard lock(m_mutex);
  m_last[uid] = pod;
  const auto now = std::chrono::steady_clock::now();
  if (metadata.contains("deletionTimestamp") && m_deleting.count(uid) == 0) {
    m_deleting[uid] = now;
  }
  if (deleted && m_deleted.count(uid) == 0) {
    m_deleted[uid] = now;
  }
  const std::string version = metadata.value("resourceVersion", "");
  if (!version.empty() && m_listed) {
    m_resource_version = version;
  }
  m_changed.notify_all();
}

std::optional<nlohmann::json> PodTrail::wait_deleted(const std::string& uid, const Deadline& deadline) const {
  std::unique_lock lock(m_mutex);
  if (!m_changed.wait_until(lock, deadline.when(), [&] { return m_deleted.count(uid) != 0; })) {
    return std::nullopt;
  }
  return m_last.at(uid);
}

std::optional<nlohmann::json> PodTrail::wait_for(const std::string& uid,
                                                 const std::function<bool(const nlohmann::json&)>& matches,
                                                 const Deadline& deadline) const {
  std::unique_lock lock(m_mutex);
  if (!m_changed.wait_until(lock, deadline.when(), [&] { return m_last.count(uid) != 0 && matches(m_last.at(uid)); })) {
    return std::nullopt;
  }
  return m_last.at(uid);
}

std::optional<std::chrono::milliseconds> PodTrail::termination_time(const std::string& uid) const {
  const std::lock_guard lock(m_mutex);
  if (m_deleting.count(uid) == 0 || m_deleted.count(uid) == 0) {
    return std::nullopt;
  }
  return std::chrono::duration_cast<std::chrono::milliseconds>(m_deleted.at(uid) - m_deleting.at(uid));
}

nlohmann::json container_status(const nlohmann::json& pod, const std::string& container) {
  const auto status = pod.value("status", nlohmann::json::object());
  for (const char* list : {"containerStatuses", "initContainerStatuses"}) {
    for (const auto& entry : status.value(list, nlohmann::json::array())) {
      if (entry.value("name", "") == container) {
        return entry;
      }
    }
  }
  return nullptr;
}

} // namespace lameduck::test
