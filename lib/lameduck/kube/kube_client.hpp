#pragma once

// A small Kubernetes API client: GET, LIST (paginated) and WATCH over HTTPS with a bearer
// token, every request bounded by the caller's Deadline. Kubernetes Status errors become typed
// errors; 429 and 5xx are retried with backoff honouring Retry-After; 401 re-reads the token
// once (it may just have rotated) before giving up.

#include "lameduck/core/deadline.hpp"
#include "lameduck/core/expected.hpp"
#include "lameduck/core/log.hpp"
#include "lameduck/http/http_client.hpp"
#include "lameduck/kube/kube_config.hpp"

#include <nlohmann/json.hpp>

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace lameduck {

enum class KubeErrorKind {
  unauthorized, // 401: the token is not accepted
  forbidden,    // 403: RBAC does not allow it
  not_found,    // 404
  gone,         // 410: the resourceVersion is too old; relist
  throttled,    // 429 still, after the retries the deadline allowed
  server,       // 5xx still, or another unexpected status
  unreachable,  // refused, TLS failure, broken connection
  timeout,      // the deadline came first
  invalid,      // an answer that is not what the API sends
};

struct KubeError {
  KubeErrorKind kind = KubeErrorKind::server;
  int code = 0;
  std::string message;
};

// What a request is for, so that a 403 can name the RBAC rule that is missing.
struct KubeAccess {
  std::string verb;     // get, list, watch, create
  std::string resource; // pods, endpointslices.discovery.k8s.io, events
};

struct KubeList {
  std::vector<nlohmann::json> items;
  std::string resource_version;
};

struct WatchEvent {
  std::string type; // ADDED, MODIFIED, DELETED, BOOKMARK
  nlohmann::json object;
};

struct KubeClientOptions {
  std::size_t page_size = 500;
  int max_attempts = 10; // per request, for 429 and 5xx, as client-go
  std::size_t max_body_bytes = std::size_t{64} << 20;
};

class KubeClient {
public:
  KubeClient(KubeConfig config, const Logger& logger, KubeClientOptions options = {});
  ~KubeClient();

  Expected<nlohmann::json, KubeError> get(const std::string& path, const KubeAccess& access, const Deadline& deadline);

  Expected<nlohmann::json, KubeError> create(const std::string& path, const nlohmann::json& object,
                                             const KubeAccess& access, const Deadline& deadline);

  // Every page of the collection at `path` (label selector optional).
  Expected<KubeList, KubeError> list(const std::string& path, const std::string& label_selector,
                                     const KubeAccess& access, const Deadline& deadline);

  // Receives each event; return false to end the watch early (not an error).
  using WatchHandler = std::function<bool(const WatchEvent& event)>;

  // Watches from `resource_version` until the server ends the stream (after `timeout`), the
  // handler stops it, or an error: an ERROR event with code 410 comes back as `gone`.
  Expected<Done, KubeError> watch(const std::string& path, const std::string& label_selector,
                                  const std::string& resource_version, Duration timeout, const KubeAccess& access,
                                  const Deadline& deadline, const WatchHandler& handler);

  // Requests sent so far, retries included, and the bytes of their answers' bodies.
  int requests() const { return m_requests.load(); }
  long long bytes_read() const { return m_bytes_read.load(); }

private:
  Expected<HttpResponse, KubeError> send(HttpRequest request, const KubeAccess& access, const Deadline& deadline,
                                         const HttpClient::BodyReceiver* receiver);

  KubeConfig m_config;
  const Logger& m_logger;
  KubeClientOptions m_options;
  TokenSource m_token;
  std::unique_ptr<HttpClient> m_http;
  std::atomic<int> m_requests{0};
  std::atomic<long long> m_bytes_read{0};
};

// "a=b" or "a in (x,y)" for kubernetes.io/service-name, for the services given.
std::string service_name_selector(const std::vector<std::string>& services);

// %-encodes a query value.
std::string url_encode(std::string_view text);

} // namespace lameduck
