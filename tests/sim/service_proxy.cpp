#include "sim/service_proxy.hpp"

#include "lameduck/http/http_client.hpp"

namespace lameduck::sim {

namespace {

using namespace std::chrono_literals;

std::vector<Backend> backends_of(const nlohmann::json& slice, int& port) {
  std::vector<Backend> backends;
  if (slice.contains("ports") && slice["ports"].is_array() && !slice["ports"].empty()) {
    port = slice["ports"][0].value("port", 0);
  }
  if (!slice.contains("endpoints") || !slice["endpoints"].is_array()) {
    return backends;
  }
  for (const auto& endpoint : slice["endpoints"]) {
    const auto conditions = endpoint.value("conditions", nlohmann::json::object());
    const bool ready = conditions.value("ready", true);
    backends.push_back({endpoint["addresses"][0].get<std::string>(), ready, conditions.value("serving", ready)});
  }
  return backends;
}

} // namespace

ServiceProxy::ServiceProxy(test::FakeApiServer& api, std::string namespace_name, std::string service,
                           Duration propagation_delay, BackendConnections connections)
    : ServiceProxy(KubeConfig{parse_url(api.url()).value(), api.token_file(), api.ca_file()},
                   std::move(namespace_name), std::move(service), propagation_delay, connections) {}

ServiceProxy::ServiceProxy(const KubeConfig& api, std::string namespace_name, std::string service,
                           Duration propagation_delay, BackendConnections connections)
    : m_namespace(std::move(namespace_name)), m_service(std::move(service)), m_delay(propagation_delay),
      m_connections(connections) {
  m_client = std::make_unique<KubeClient>(api, m_logger);
  m_server.new_task_queue = [] { return new httplib::ThreadPool(32); };
  m_server.set_tcp_nodelay(true);
  m_server.Post("/tasks", [this](const auto& request, auto& response) { route(request, response); });
  m_port = m_server.bind_to_any_port("127.0.0.1");
  m_serving = std::thread([this] { m_server.listen_after_bind(); });
  m_watcher = std::thread([this] { watch_loop(); });
}

ServiceProxy::~ServiceProxy() {
  m_stopping = true;
  m_watcher.join();
  m_server.stop();
  m_serving.join();
}

void ServiceProxy::seen(std::vector<Backend> backends, int port) {
  {
    const std::lock_guard lock(m_mutex);
    m_seen.push_back({Clock::now(), std::move(backends), port});
  }
  m_changed.notify_all();
}

// Under the mutex: the latest slice state old enough to be applied, if any.
const ServiceProxy::Seen* ServiceProxy::applied(Clock::time_point now) const {
  for (auto it = m_seen.rbegin(); it != m_seen.rend(); ++it) {
    if (it->at + m_delay <= now) {
      return &*it;
    }
  }
  return nullptr;
}

std::vector<Backend> ServiceProxy::routing() const {
  const std::lock_guard lock(m_mutex);
  const Seen* state = applied(Clock::now());
  return state != nullptr ? state->backends : std::vector<Backend>{};
}

bool ServiceProxy::wait_routing(const std::string& ip, bool ready, const Deadline& deadline) const {
  std::unique_lock lock(m_mutex);
  for (;;) {
    const auto now = Clock::now();
    const Seen* state = applied(now);
    bool routed = false;
    for (const auto& backend : state != nullptr ? state->backends : std::vector<Backend>{}) {
      routed = routed || (backend.ip == ip && backend.ready);
    }
    if (routed == ready) {
      return true;
    }
    if (deadline.expired(now)) {
      return false;
    }
    // Wake when the next state seen comes into effect, or when a new one is seen.
    auto wake = deadline.when();
    for (const auto& entry : m_seen) {
      if (entry.at + m_delay > now) {
        wake = std::min(wake, entry.at + m_delay);
        break;
      }
    }
    m_changed.wait_until(lock, wake);
  }
}

// One LIST, then watches in short windows so that the destructor is never kept waiting.
void ServiceProxy::watch_loop() {
  const std::string path = "/apis/discovery.k8s.io/v1/namespaces/" + m_namespace + "/endpointslices";
  const std::string selector = "kubernetes.io/service-name=" + m_service;
  while (!m_stopping) {
    const auto list = m_client->list(path, selector, {"list", "endpointslices"}, Deadline::after(5s));
    if (!list) {
      continue;
    }
    int port = 0;
    std::vector<Backend> all;
    for (const auto& slice : list->items) {
      auto backends = backends_of(slice, port);
      all.insert(all.end(), backends.begin(), backends.end());
    }
    seen(all, port);
    std::string version = list->resource_version;
    while (!m_stopping) {
      const auto watched = m_client->watch(path, selector, version, 1s, {"watch", "endpointslices"},
                                           Deadline::after(5s), [&](const WatchEvent& event) {
                                             version = event.object["metadata"].value("resourceVersion", version);
                                             if (event.type == "ADDED" || event.type == "MODIFIED") {
                                               int slice_port = 0;
                                               auto backends = backends_of(event.object, slice_port);
                                               seen(std::move(backends), slice_port); // one slice per Service here
                                             }
                                             return !m_stopping.load();
                                           });
      if (!watched) {
        break; // relist
      }
    }
  }
}

void ServiceProxy::route(const httplib::Request& request, httplib::Response& response) {
  int port = 0;
  std::vector<Backend> candidates;
  {
    const std::lock_guard lock(m_mutex);
    if (const Seen* state = applied(Clock::now())) {
      port = state->port;
      for (const auto& backend : state->backends) {
        if (backend.ready) {
          candidates.push_back(backend);
        }
      }
      if (candidates.empty()) {
        // kube-proxy's fallback: serving-and-terminating endpoints when none is ready.
        for (const auto& backend : state->backends) {
          if (backend.serving) {
            candidates.push_back(backend);
          }
        }
      }
    }
  }
  if (candidates.empty()) {
    response.status = 503;
    response.set_content("no endpoints\n", "text/plain");
    return;
  }
  const Backend& target = candidates[m_next++ % candidates.size()];
  {
    const std::lock_guard lock(m_mutex);
    auto& forwarded = m_forwarded[target.ip];
    forwarded.last = Clock::now();
    ++forwarded.count;
  }
  m_changed.notify_all();
  auto client = take_client(target.ip, port);
  HttpRequest forwarded{.method = "POST", .target = request.path, .headers = {}, .body = request.body,
                        .content_type = "application/json"};
  const auto answer = client->send(forwarded, Deadline::after(2s));
  if (!answer) {
    response.status = 502;
    response.set_content(target.ip + ": " + answer.error().message + "\n", "text/plain");
    return; // a broken connection is not pooled again
  }
  return_client(target.ip, std::move(client));
  response.status = answer->status;
  response.set_content(target.ip + " " + answer->body, "application/json");
}

std::unique_ptr<HttpClient> ServiceProxy::take_client(const std::string& ip, int port) {
  if (m_connections == BackendConnections::kept_alive) {
    const std::lock_guard lock(m_mutex);
    auto& idle = m_idle[ip];
    if (!idle.empty()) {
      auto client = std::move(idle.back());
      idle.pop_back();
      return client;
    }
  }
  HttpClientOptions options;
  options.keep_alive = m_connections == BackendConnections::kept_alive;
  return std::make_unique<HttpClient>(parse_url("http://" + ip + ":" + std::to_string(port)).value(), options);
}

void ServiceProxy::return_client(const std::string& ip, std::unique_ptr<HttpClient> client) {
  if (m_connections == BackendConnections::kept_alive) {
    const std::lock_guard lock(m_mutex);
    m_idle[ip].push_back(std::move(client));
  }
}

std::optional<Clock::time_point> ServiceProxy::last_forwarded(const std::string& ip) const {
  const std::lock_guard lock(m_mutex);
  const auto found = m_forwarded.find(ip);
  return found == m_forwarded.end() ? std::nullopt : std::optional{found->second.last};
}

bool ServiceProxy::wait_forwarded(const std::string& ip, int count, const Deadline& deadline) const {
  std::unique_lock lock(m_mutex);
  return m_changed.wait_until(lock, deadline.when(), [&] {
    const auto found = m_forwarded.find(ip);
    return found != m_forwarded.end() && found->second.count >= count;
  });
}

int ServiceProxy::forwarded(const std::string& ip) const {
  const std::lock_guard lock(m_mutex);
  const auto found = m_forwarded.find(ip);
  return found == m_forwarded.end() ? 0 : found->second.count;
}

LoadGenerator::LoadGenerator(std::string proxy_url, Duration interval, std::string prefix)
    : m_url(std::move(proxy_url)), m_interval(interval), m_prefix(std::move(prefix)) {
  m_thread = std::thread([this] { run(); });
}

LoadGenerator::~LoadGenerator() {
  if (m_thread.joinable()) {
    stop();
  }
}

LoadResult LoadGenerator::stop() {
  m_stopping = true;
  m_thread.join();
  const std::lock_guard lock(m_mutex);
  return m_result;
}

int LoadGenerator::sent() const {
  const std::lock_guard lock(m_mutex);
  return m_result.sent;
}

void LoadGenerator::run() {
  HttpClientOptions options;
  options.keep_alive = false;
  auto next = Clock::now();
  for (int n = 0; !m_stopping; ++n) {
    const std::string id = m_prefix + std::to_string(n);
    HttpClient client(parse_url(m_url).value(), options);
    const auto answer = client.send({.method = "POST", .target = "/tasks", .headers = {},
                                     .body = nlohmann::json{{"id", id}}.dump(), .content_type = "application/json"},
                                    Deadline::after(3s));
    {
      const std::lock_guard lock(m_mutex);
      ++m_result.sent;
      if (answer && answer->status == 202) {
        m_result.accepted.insert(id);
        const auto body = nlohmann::json::parse(answer->body, nullptr, false);
        if (body.is_object() && body.contains("worker") && body["worker"].is_string()) {
          m_result.accepted_by[id] = body["worker"].get<std::string>();
        }
      } else {
        ++m_result.failed;
        m_result.failures.push_back(id + ": " + (answer ? std::to_string(answer->status) + " " + answer->body
                                                        : answer.error().message));
      }
    }
    next += m_interval;
    std::this_thread::sleep_until(next);
  }
}

} // namespace lameduck::sim
