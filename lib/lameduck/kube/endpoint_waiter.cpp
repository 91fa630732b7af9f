#include "lameduck/kube/endpoint_waiter.hpp"

#include "lameduck/core/backoff.hpp"

#include <map>

namespace lameduck {

namespace {

// After this many watches in a row that fail without a 410, the API counts as unusable.
constexpr int k_max_watch_failures = 5;
// client-go's reflector backs off from 800 ms; a deadline of seconds cannot afford its 30 s cap.
constexpr BackoffPolicy k_watch_backoff{.first = std::chrono::milliseconds{100}, .max = std::chrono::seconds{2}};
// Ask the server to end each watch well before it would pick its own 30-60 min.
constexpr auto k_max_watch_timeout = std::chrono::minutes{5};

const KubeAccess k_list_slices{"list", "endpointslices.discovery.k8s.io"};
const KubeAccess k_watch_slices{"watch", "endpointslices.discovery.k8s.io"};

class SliceView {
public:
  explicit SliceView(const PodMatch& pod) : m_pod(pod) {}

  void reset(const std::vector<nlohmann::json>& slices) {
    m_ready_in.clear();
    for (const auto& slice : slices) {
      update(slice);
    }
  }
  void update(const nlohmann::json& slice) {
    const std::string name = slice_name(slice);
    if (pod_in_slice(slice, m_pod) == PodInSlice::ready) {
      m_ready_in[name] = true;
    } else {
      m_ready_in.erase(name);
    }
  }
  void remove(const nlohmann::json& slice) { m_ready_in.erase(slice_name(slice)); }

  bool pod_out_of_rotation() const { return m_ready_in.empty(); }
  std::string still_ready_in() const {
    std::string names;
    for (const auto& [name, ready] : m_ready_in) {
      names += (names.empty() ? "" : ", ") + name;
    }
    return names;
  }

private:
  static std::string slice_name(const nlohmann::json& slice) {
    const auto metadata = slice.find("metadata");
    return metadata != slice.end() && metadata->is_object() ? metadata->value("name", "") : "";
  }
  const PodMatch& m_pod;
  std::map<std::string, bool> m_ready_in; // the slices that still list this pod as ready
};

std::string resource_version_of(const nlohmann::json& object) {
  const auto metadata = object.find("metadata");
  return metadata != object.end() && metadata->is_object() ? metadata->value("resourceVersion", "") : "";
}

} // namespace

std::string_view endpoint_verdict_name(EndpointVerdict verdict) {
  switch (verdict) {
  case EndpointVerdict::not_ready:
    return "not_ready";
  case EndpointVerdict::timeout:
    return "timeout";
  case EndpointVerdict::api_unusable:
    return "api_unusable";
  }
  return "unknown";
}

EndpointWaitResult wait_until_endpoint_not_ready(KubeClient& client, const EndpointWaitRequest& request,
                                                 const Deadline& deadline, const Logger& logger) {
  const auto started = Clock::now();
  const auto result = [&](EndpointVerdict verdict, std::string reason) {
    return EndpointWaitResult{.verdict = verdict, .reason = std::move(reason), .elapsed = Clock::now() - started};
  };
  const auto failed = [&](const KubeError& error) {
    const bool out_of_time = error.kind == KubeErrorKind::timeout || deadline.expired();
    return result(out_of_time ? EndpointVerdict::timeout : EndpointVerdict::api_unusable, error.message);
  };
  const std::string path = "/apis/discovery.k8s.io/v1/namespaces/" + url_encode(request.namespace_name) +
                           "/endpointslices";
  const std::string selector = service_name_selector(request.services);
  SliceView view(request.pod);

  for (;;) {
    const auto listed = client.list(path, selector, k_list_slices, deadline);
    if (!listed) {
      return failed(listed.error());
    }
    view.reset(listed->items);
    if (view.pod_out_of_rotation()) {
      return result(EndpointVerdict::not_ready, "no EndpointSlice lists this pod as ready");
    }
    logger.debug("endpoints.listed", "the pod is still ready in some slices",
                 {{"slices", listed->items.size()}, {"ready_in", view.still_ready_in()}});

    std::string resource_version = listed->resource_version;
    int failures = 0;
    Backoff backoff(k_watch_backoff);
    for (;;) {
      bool met = false;
      int events = 0;
      const auto watch_started = Clock::now();
      const auto watched = client.watch(
          path, selector, resource_version, std::min<Duration>(deadline.remaining(), k_max_watch_timeout),
          k_watch_slices, deadline, [&](const WatchEvent& event) {
            ++events;
            if (const auto version = resource_version_of(event.object); !version.empty()) {
              resource_version = version;
            }
            if (event.type == "DELETED") {
              view.remove(event.object);
            } else if (event.type == "ADDED" || event.type == "MODIFIED") {
              view.update(event.object);
            }
            met = view.pod_out_of_rotation();
            if (!met) {
              logger.debug("endpoints.changed", "the pod is still ready in some slices",
                           {{"type", event.type}, {"ready_in", view.still_ready_in()}});
            }
            return !met;
          });
      if (met) {
        return result(EndpointVerdict::not_ready, "the pod is no longer ready in any EndpointSlice");
      }
      if (deadline.expired()) {
        return result(EndpointVerdict::timeout,
                      "the deadline came while the pod was still ready in " + view.still_ready_in());
      }
      if (!watched && watched.error().kind == KubeErrorKind::gone) {
        logger.info("endpoints.relist", "the watch's resourceVersion expired; listing again",
                    {{"reason", watched.error().message}});
        break; // relist
      }
      if (!watched && (watched.error().kind == KubeErrorKind::unauthorized ||
                       watched.error().kind == KubeErrorKind::forbidden)) {
        return failed(watched.error());
      }
      // A watch that failed, or ended at once with nothing in it (as client-go's reflector
      // counts it), is a failure; one that ran its course is simply resumed.
      const bool quick_empty_end = watched && events == 0 && Clock::now() - watch_started < std::chrono::seconds{1};
      if (watched && !quick_empty_end) {
        failures = 0;
        backoff.reset();
        continue;
      }
      const std::string why = watched ? "the watch ended at once with no events" : watched.error().message;
      if (++failures >= k_max_watch_failures) {
        return result(EndpointVerdict::api_unusable,
                      "the watch failed " + std::to_string(failures) + " times in a row: " + why);
      }
      logger.warn("endpoints.watch_failed", why + "; watching again", {{"failures", failures}});
      if (!backoff.wait(deadline)) {
        return result(EndpointVerdict::timeout,
                      "the deadline came while the pod was still ready in " + view.still_ready_in() + " (" + why + ")");
      }
    }
  }
}

} // namespace lameduck
