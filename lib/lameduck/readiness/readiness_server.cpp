#include "lameduck/readiness/readiness_server.hpp"

#include "lameduck/core/exit_code.hpp"
#include "lameduck/core/loopback.hpp"
#include "lameduck/core/signals.hpp"
#include "lameduck/http/http_client.hpp"
#include "lameduck/http/http_server.hpp"
#include "lameduck/readiness/readiness_metrics.hpp"
#include "lameduck/readiness/readiness_state.hpp"
#include "lameduck/readiness/upstream_check.hpp"

#include <nlohmann/json.hpp>

#include <charconv>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace lameduck {

namespace {

// The kubelet's probe times out after 1 s by default: a request must be whole within that.
constexpr auto k_request_timeout = std::chrono::seconds{1};
// A kubelet and prestop need a handful. The cap bounds what a flood costs (a connection is a
// few hundred bytes here, and a socket in the kernel); beyond it a new connection replaces the
// oldest idle one, so a flood cannot lock out a new prober.
constexpr std::size_t k_max_connections = 1024;
constexpr std::size_t k_max_body_bytes = 4096;
constexpr const char* k_text = "text/plain; charset=utf-8";

std::string json_body(const ReadinessState& state) {
  return readiness_state_json(state) + "\n";
}

HttpServerAnswer text_answer(int status, std::string body) {
  return {.status = status, .content_type = k_text, .body = std::move(body), .allow = {}};
}

HttpServerAnswer json_answer(int status, std::string body) {
  return {.status = status, .content_type = "application/json", .body = std::move(body), .allow = {}};
}

HttpServerAnswer error_answer(int status, std::string_view message) {
  return json_answer(status, nlohmann::json{{"error", message}}.dump() + "\n");
}

// For a 405 instead of a 404 when the path exists but the method does not.
const char* allowed_methods(std::string_view path) {
  if (path == "/readyz/disable" || path == "/readyz/enable") {
    return "POST";
  }
  if (path == "/readyz" || path == "/livez" || path == "/metrics" || path == "/readyz/state") {
    return "GET, HEAD";
  }
  return nullptr;
}

HttpServerLimits server_limits(const ReadinessServerOptions& options) {
  HttpServerLimits limits;
  limits.request_timeout = k_request_timeout;
  // A probe waiting on the upstream is answered when the check ends, which its own deadline
  // bounds; this is the backstop.
  limits.answer_timeout = options.upstream_timeout + k_request_timeout;
  limits.max_body_bytes = k_max_body_bytes;
  limits.max_connections = k_max_connections;
  return limits;
}

} // namespace

Expected<ListenAddress> parse_listen_address(std::string_view text) {
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos) {
    return unexpected("listen address \"" + std::string(text) + "\" needs a port, as in [::]:7979 or 0.0.0.0:7979");
  }
  std::string_view host = text.substr(0, colon);
  const std::string_view port_text = text.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string_view::npos) {
    return unexpected("listen address \"" + std::string(text) + "\": put an IPv6 address in brackets, as in [::1]:7979");
  }
  int port = -1;
  const auto [end, error] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (error != std::errc{} || end != port_text.data() + port_text.size() || port < 0 || port > 65535) {
    return unexpected("listen address \"" + std::string(text) + "\" has no valid port (0-65535)");
  }
  return ListenAddress{.host = host.empty() ? "::" : std::string(host), .port = port};
}

struct ReadinessServer::Impl {
  Impl(ReadinessServerOptions options_in, const Logger& logger_in)
      : options(std::move(options_in)), logger(logger_in), readiness(options.state_file, options.start_ready),
        server([this](const HttpServerRequest& request) { return answer(request); }, server_limits(options)) {
    if (options.upstream) {
      upstream_check.emplace(*options.upstream, options.upstream_timeout);
      server.watch(upstream_check->fd(), [this] { answer_waiting_probes(); });
    }
  }

  ReadinessServerOptions options;
  const Logger& logger;
  ReadinessSwitch readiness;
  ReadinessMetrics metrics;
  HttpServer server;
  std::optional<UpstreamCheck> upstream_check;
  // Probes waiting for the check in flight; they all get its outcome.
  std::vector<HttpConnectionId> waiting_probes;
  // Logged when it changes, not on every probe.
  bool upstream_was_ok = true;

  HttpServerAnswer probe_answer(const std::string& upstream_problem) {
    const ReadinessState state = readiness.current();
    std::string problem;
    if (!state.ready) {
      problem = state.reason.empty() ? "disabled" : state.reason;
    } else if (!upstream_problem.empty()) {
      problem = upstream_problem;
      metrics.count_upstream_failure();
    }
    const int status = problem.empty() ? 200 : 503;
    metrics.count_probe(status);
    return text_answer(status, problem.empty() ? "ok\n" : "not ready: " + problem + "\n");
  }

  std::optional<HttpServerAnswer> answer_readyz(const HttpServerRequest& request) {
    // The switch off wins without asking the upstream.
    if (!upstream_check || !readiness.current().ready) {
      return probe_answer({});
    }
    waiting_probes.push_back(request.connection);
    upstream_check->start();
    return std::nullopt;
  }

  void answer_waiting_probes() {
    const auto outcome = upstream_check->take_outcome();
    if (!outcome) {
      return;
    }
    if (upstream_was_ok != outcome->empty()) {
      upstream_was_ok = outcome->empty();
      if (upstream_was_ok) {
        logger.info("upstream.ok", "the upstream answers healthy again", {{"upstream", options.upstream->text()}});
      } else {
        logger.warn("upstream.failing", *outcome, {{"upstream", options.upstream->text()}});
      }
    }
    for (const HttpConnectionId probe : std::exchange(waiting_probes, {})) {
      server.answer_later(probe, probe_answer(*outcome));
    }
  }

  // Only processes in this pod may flip the switch or read why it is off.
  std::optional<HttpServerAnswer> refuse_remote_peer(const HttpServerRequest& request) {
    if (is_loopback_address(request.peer)) {
      return std::nullopt;
    }
    logger.warn("switch.refused", "the readiness switch answers loopback peers only",
                {{"peer", request.peer}, {"path", std::string(request.head.path)}});
    return error_answer(403, "the readiness switch answers loopback peers only");
  }

  HttpServerAnswer flip(const HttpServerRequest& request, bool ready) {
    if (auto refused = refuse_remote_peer(request)) {
      return *refused;
    }
    std::string reason = ready ? "enabled" : "disabled";
    if (!request.body.empty()) {
      const auto body = nlohmann::json::parse(request.body, nullptr, /*allow_exceptions=*/false);
      const auto given = body.is_object() ? body.find("reason") : body.end();
      if (!body.is_object() || (given != body.end() && !given->is_string())) {
        return error_answer(400, R"(the body must be empty or {"reason":"..."})");
      }
      if (given != body.end()) {
        reason = given->get<std::string>();
      }
    }
    const auto change = readiness.set(ready, reason);
    if (change.changed) {
      metrics.count_transition(ready);
      logger.info("readiness.changed", ready ? "readiness on" : "readiness off",
                  {{"ready", ready}, {"reason", reason}, {"peer", request.peer}});
    }
    if (change.save_error) {
      logger.error("state.save_failed", *change.save_error + "; the switch holds in memory only",
                   {{"state_file", options.state_file}});
    }
    return json_answer(200, json_body(change.state));
  }

  std::optional<HttpServerAnswer> answer(const HttpServerRequest& request) {
    const std::string_view path = request.head.path;
    const std::string_view method = request.head.method;
    const bool get = method == "GET" || method == "HEAD";
    if (get && path == "/readyz") {
      return answer_readyz(request);
    }
    if (get && path == "/livez") {
      return text_answer(200, "ok\n");
    }
    if (get && path == "/metrics") {
      return HttpServerAnswer{.status = 200, .content_type = k_metrics_content_type,
                              .body = metrics.render(readiness.current().ready), .allow = {}};
    }
    if (get && path == "/readyz/state") {
      if (auto refused = refuse_remote_peer(request)) {
        return refused;
      }
      return json_answer(200, json_body(readiness.current()));
    }
    if (method == "POST" && (path == "/readyz/disable" || path == "/readyz/enable")) {
      return flip(request, path == "/readyz/enable");
    }
    const char* allowed = allowed_methods(path);
    const int status = allowed != nullptr ? 405 : 404;
    HttpServerAnswer refusal = text_answer(status, std::to_string(status) + " " +
                                                       std::string(http_status_text(status)) + ": " +
                                                       std::string(method) + " " + std::string(path) + "\n");
    if (allowed != nullptr) {
      refusal.allow = allowed;
    }
    return refusal;
  }
};

ReadinessServer::ReadinessServer(ReadinessServerOptions options, const Logger& logger)
    : m_impl(std::make_unique<Impl>(std::move(options), logger)) {
  if (!m_impl->readiness.load_problem().empty()) {
    logger.error("state.unusable", m_impl->readiness.load_problem() + "; starting not ready",
                 {{"state_file", m_impl->options.state_file}});
  }
}

ReadinessServer::~ReadinessServer() = default;

Expected<ListenAddress> ReadinessServer::bind() {
  auto address = parse_listen_address(m_impl->options.listen);
  if (!address) {
    return address;
  }
  auto port = m_impl->server.listen(address->host, address->port);
  if (!port && address->host == "::") {
    // Some clusters turn IPv6 off in pods; every IPv4 address is what "[::]" meant there.
    m_impl->logger.warn("serve.ipv4_only", "cannot listen on [::], listening on 0.0.0.0 instead");
    address->host = "0.0.0.0";
    port = m_impl->server.listen(address->host, address->port);
  }
  if (!port) {
    return unexpected("cannot listen on " + join_host_port(address->host, address->port) + ": " +
                      port.error().message);
  }
  address->port = *port;
  return address;
}

void ReadinessServer::serve() {
  m_impl->server.run();
}

int ReadinessServer::serve(const ShutdownSignals& signals) {
  int signal = 0;
  m_impl->server.watch(signals.fd(), [this, &signals, &signal] {
    signal = signals.wait(Deadline::after(Duration::zero()));
    m_impl->server.stop();
  });
  m_impl->server.run();
  return signal;
}

bool ReadinessServer::upstream_check_in_flight() const {
  return m_impl->upstream_check && m_impl->upstream_check->in_flight();
}

void ReadinessServer::stop() {
  m_impl->server.stop();
}

int serve_readiness(const ReadinessServerOptions& options, const Logger& logger) {
  ignore_sigpipe();
  if (options.upstream && options.upstream->scheme == "https" && !HttpClient::supports_https()) {
    logger.error("serve.failed", "--upstream: readyz-toggle asks the agent's health over plain HTTP on loopback; "
                                 "https is not built in",
                 {{"upstream", options.upstream->text()}});
    return exit_code::k_usage;
  }
  const ShutdownSignals signals;
  ReadinessServer server(options, logger);
  const auto address = server.bind();
  if (!address) {
    logger.error("serve.failed", address.error().message, {{"listen", options.listen}});
    return exit_code::k_usage;
  }
  logger.info("serve.listening", "serving /readyz, /livez, /metrics and the readiness switch",
              {{"address", join_host_port(address->host, address->port)},
               {"port", address->port},
               {"upstream", options.upstream ? options.upstream->text() : ""},
               {"state_file", options.state_file}});

  // One thread serves and waits for the signal: the loop returns at once, every connection
  // closed; the switch is on disk already, so nothing is lost by not finishing exchanges.
  const int signal = server.serve(signals);
  logger.info("serve.stopping", "stopping", {{"signal", signal == SIGINT ? "SIGINT" : "SIGTERM"}});
  if (server.upstream_check_in_flight()) {
    // Its thread ends within --upstream-timeout; the process need not wait for it, nor run
    // the static destructors under it.
    logger.info("serve.stopped", "stopped with an upstream check in flight");
    std::_Exit(exit_code::k_ok);
  }
  logger.info("serve.stopped", "stopped");
  return exit_code::k_ok;
}

} // namespace lameduck
