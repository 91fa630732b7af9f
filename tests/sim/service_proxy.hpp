#pragma once

// A kube-proxy stand-in and the load that goes through it. The proxy watches the Service's
// EndpointSlices on the API (the fake one, or a real cluster's) like kube-proxy does, applies each change after a
// propagation delay (its iptables sync), and routes every new request to a ready endpoint as
// it last applied them, falling back to serving-and-terminating ones only when none is ready.
// With a delay of seconds and kept-alive connections to the pods, the same proxy is a cloud
// load balancer with IP targets: it deregisters a target long after the API said so, and
// sends requests on connections it opened before.
// The load generator sends tasks at a fixed rate and counts every one that failed.

#include "lameduck/http/http_client.hpp"
#include "lameduck/kube/kube_client.hpp"
#include "support/fake_apiserver.hpp"

#include <httplib.h>

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <optional>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace lameduck::sim {

struct Backend {
  std::string ip;
  bool ready = false;
  bool serving = false;
};

enum class BackendConnections {
  per_request, // a new connection for every request, as iptables DNAT gives each client's own
  kept_alive,  // a pool of connections per pod, reused, as a load balancer keeps them
};

class ServiceProxy {
public:
  ServiceProxy(const KubeConfig& api, std::string namespace_name, std::string service, Duration propagation_delay,
               BackendConnections connections = BackendConnections::per_request);
  ServiceProxy(test::FakeApiServer& api, std::string namespace_name, std::string service, Duration propagation_delay,
               BackendConnections connections = BackendConnections::per_request);
  ~ServiceProxy();

  std::string url() const { return "http://127.0.0.1:" + std::to_string(m_port); }
  // The backends the proxy routes to now.
  std::vector<Backend> routing() const;
  // Until the proxy routes to `ip` as a ready backend (or no longer does, with ready false).
  bool wait_routing(const std::string& ip, bool ready, const Deadline& deadline) const;
  // When the proxy last sent a request to `ip` (and how many in all), for the tests that
  // measure how soon after the last one a pod stops.
  std::optional<Clock::time_point> last_forwarded(const std::string& ip) const;
  int forwarded(const std::string& ip) const;
  bool wait_forwarded(const std::string& ip, int count, const Deadline& deadline) const;

private:
  void watch_loop();
  void seen(std::vector<Backend> backends, int port);
  void route(const httplib::Request& request, httplib::Response& response);
  std::unique_ptr<HttpClient> take_client(const std::string& ip, int port);
  void return_client(const std::string& ip, std::unique_ptr<HttpClient> client);

  std::string m_namespace;
  std::string m_service;
  Duration m_delay;
  BackendConnections m_connections;
  Logger m_logger{"proxy", LogFormat::json, LogLevel::error, [](std::string_view) {}};
  std::unique_ptr<KubeClient> m_client;
  mutable std::mutex m_mutex;
  mutable std::condition_variable m_changed;
  // What the watch saw, with when; the router uses the latest entry older than the delay.
  struct Seen {
    Clock::time_point at;
    std::vector<Backend> backends;
    int port = 0;
  };
  std::vector<Seen> m_seen;
  const Seen* applied(Clock::time_point now) const;
  struct Forwarded {
    Clock::time_point last;
    int count = 0;
  };
  std::map<std::string, Forwarded> m_forwarded;                         // by pod IP
  std::map<std::string, std::vector<std::unique_ptr<HttpClient>>> m_idle; // kept-alive, by pod IP
  std::atomic<bool> m_stopping{false};
  std::atomic<unsigned> m_next{0};
  httplib::Server m_server;
  int m_port = 0;
  std::thread m_watcher;
  std::thread m_serving;
};

struct LoadResult {
  int sent = 0;
  int failed = 0;
  std::set<std::string> accepted; // task ids answered 202
  std::map<std::string, std::string> accepted_by; // task id -> the "worker" its 202 named, if any
  std::vector<std::string> failures; // "id: why"
};

class LoadGenerator {
public:
  LoadGenerator(std::string proxy_url, Duration interval, std::string prefix);
  ~LoadGenerator();
  // Stops sending and returns what happened.
  LoadResult stop();
  int sent() const;

private:
  void run();

  std::string m_url;
  Duration m_interval;
  std::string m_prefix;
  std::atomic<bool> m_stopping{false};
  mutable std::mutex m_mutex;
  LoadResult m_result;
  std::thread m_thread;
};

} // namespace lameduck::sim
