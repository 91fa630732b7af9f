#include "lameduck/readiness/readiness_server.hpp"

#include "lameduck/core/exit_code.hpp"
#include "lameduck/core/loopback.hpp"
#include "lameduck/core/signals.hpp"
#include "lameduck/http/http_client.hpp"
#include "lameduck/readiness/readiness_metrics.hpp"
#include "lameduck/readiness/readiness_state.hpp"

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <charconv>
#include <cstdlib>
#include <future>
#include <thread>

namespace lameduck {

namespace {

// Enough workers that a few clients holding connections open cannot starve the kubelet's
// probe; each slow or silent client is dropped after k_io_timeout.
constexpr std::size_t k_worker_threads = 16;
constexpr auto k_io_timeout = std::chrono::seconds{1};
constexpr std::size_t k_max_body_bytes = 4096;
// SIGTERM must end the process within a second; in-flight exchanges get this long to finish.
constexpr auto k_stop_grace = std::chrono::milliseconds{800};

std::string json_body(const ReadinessState& state) {
  return readiness_state_json(state) + "\n";
}

std::string error_body(std::string_view message) {
  return nlohmann::json{{"error", message}}.dump() + "\n";
}

// For a 405 instead of a 404 when the path exists but the method does not.
const char* allowed_methods(const std::string& path) {
  if (path == "/readyz/disable" || path == "/readyz/enable") {
    return "POST";
  }
  if (path == "/readyz" || path == "/livez" || path == "/metrics" || path == "/readyz/state") {
    return "GET, HEAD";
  }
  return nullptr;
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
      : options(std::move(options_in)), logger(logger_in), readiness(options.state_file, options.start_ready) {}

  ReadinessServerOptions options;
  const Logger& logger;
  ReadinessSwitch readiness;
  ReadinessMetrics metrics;
  httplib::Server server;
  // Logged when it changes, not on every probe.
  std::atomic<bool> upstream_was_ok{true};

  // Empty when the upstream is healthy, else why not.
  std::string check_upstream() {
    HttpClientOptions client_options;
    client_options.connect_timeout = options.upstream_timeout;
    client_options.keep_alive = false;
    client_options.max_body_bytes = 64 * 1024;
    client_options.user_agent = "lameduck-readyz-toggle";
    HttpClient client(*options.upstream, client_options);
    const auto answer = client.send({.method = "GET", .target = options.upstream->target, .headers = {}, .body = {},
                                     .content_type = {}},
                                    Deadline::after(options.upstream_timeout));
    std::string problem;
    if (!answer) {
      problem = "upstream " + options.upstream->text() + ": " + answer.error().message;
    } else if (answer->status < 200 || answer->status >= 400) {
      problem = "upstream " + options.upstream->text() + " answered " + std::to_string(answer->status);
    }
    if (upstream_was_ok.exchange(problem.empty()) != problem.empty()) {
      if (problem.empty()) {
        logger.info("upstream.ok", "the upstream answers healthy again", {{"upstream", options.upstream->text()}});
      } else {
        logger.warn("upstream.failing", problem, {{"upstream", options.upstream->text()}});
      }
    }
    return problem;
  }

  void answer_readyz(const httplib::Request&, httplib::Response& response) {
    const ReadinessState state = readiness.current();
    std::string problem;
    if (!state.ready) {
      problem = state.reason.empty() ? "disabled" : state.reason;
    } else if (options.upstream) {
      problem = check_upstream();
      if (!problem.empty()) {
        metrics.count_upstream_failure();
      }
    }
    response.status = problem.empty() ? 200 : 503;
    response.set_content(problem.empty() ? "ok\n" : "not ready: " + problem + "\n", "text/plain; charset=utf-8");
    metrics.count_probe(response.status);
  }

  // Only processes in this pod may flip the switch or read why it is off.
  bool refuse_remote_peer(const httplib::Request& request, httplib::Response& response) {
    if (is_loopback_address(request.remote_addr)) {
      return false;
    }
    logger.warn("switch.refused", "the readiness switch answers loopback peers only",
                {{"peer", request.remote_addr}, {"path", request.path}});
    response.status = 403;
    response.set_content(error_body("the readiness switch answers loopback peers only"), "application/json");
    return true;
  }

  void flip(const httplib::Request& request, httplib::Response& response, bool ready) {
    if (refuse_remote_peer(request, response)) {
      return;
    }
    std::string reason = ready ? "enabled" : "disabled";
    if (!request.body.empty()) {
      const auto body = nlohmann::json::parse(request.body, nullptr, /*allow_exceptions=*/false);
      const auto given = body.is_object() ? body.find("reason") : body.end();
      if (!body.is_object() || (given != body.end() && !given->is_string())) {
        response.status = 400;
        response.set_content(error_body(R"(the body must be empty or {"reason":"..."})"), "application/json");
        return;
      }
      if (given != body.end()) {
        reason = given->get<std::string>();
      }
    }
    const auto change = readiness.set(ready, reason);
    if (change.changed) {
      metrics.count_transition(ready);
      logger.info("readiness.changed", ready ? "readiness on" : "readiness off",
                  {{"ready", ready}, {"reason", reason}, {"peer", request.remote_addr}});
    }
    if (change.save_error) {
      logger.error("state.save_failed", *change.save_error + "; the switch holds in memory only",
                   {{"state_file", options.state_file}});
    }
    response.set_content(json_body(change.state), "application/json");
  }

  void route() {
    server.new_task_queue = [] { return new httplib::ThreadPool(k_worker_threads); };
    server.set_read_timeout(k_io_timeout);
    server.set_write_timeout(k_io_timeout);
    server.set_keep_alive_timeout(k_io_timeout.count());
    server.set_payload_max_length(k_max_body_bytes);
    // cpp-httplib polls the listening socket every 10 ms by default; block in accept() instead
    // (stop() still wakes it by shutting the socket down).
    server.set_idle_interval(0, 0);
    // A probe's answer goes out at once, not after a delayed ACK of the headers.
    server.set_tcp_nodelay(true);

    server.Get("/readyz", [this](const auto& request, auto& response) { answer_readyz(request, response); });
    server.Get("/livez", [](const auto&, auto& response) { response.set_content("ok\n", "text/plain; charset=utf-8"); });
    server.Get("/metrics", [this](const auto&, auto& response) {
      response.set_content(metrics.render(readiness.current().ready), k_metrics_content_type);
    });
    server.Post("/readyz/disable", [this](const auto& request, auto& response) { flip(request, response, false); });
    server.Post("/readyz/enable", [this](const auto& request, auto& response) { flip(request, response, true); });
    server.Get("/readyz/state", [this](const auto& request, auto& response) {
      if (!refuse_remote_peer(request, response)) {
        response.set_content(json_body(readiness.current()), "application/json");
      }
    });
    server.set_error_handler([](const auto& request, auto& response) {
      if (const char* allowed = allowed_methods(request.path); response.status == 404 && allowed != nullptr) {
        response.status = 405;
        response.set_header("Allow", allowed);
      }
      if (response.body.empty()) {
        response.set_content(std::to_string(response.status) + " " + httplib::detail::status_message(response.status) +
                                 ": " + request.method + " " + request.path + "\n",
                             "text/plain; charset=utf-8");
      }
    });
  }
};

ReadinessServer::ReadinessServer(ReadinessServerOptions options, const Logger& logger)
    : m_impl(std::make_unique<Impl>(std::move(options), logger)) {
  m_impl->route();
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
  const auto try_bind = [this](const std::string& host, int port) {
    return port == 0 ? m_impl->server.bind_to_any_port(host) : (m_impl->server.bind_to_port(host, port) ? port : -1);
  };
  int port = try_bind(address->host, address->port);
  if (port < 0 && address->host == "::") {
    // Some clusters turn IPv6 off in pods; every IPv4 address is what "[::]" meant there.
    m_impl->logger.warn("serve.ipv4_only", "cannot listen on [::], listening on 0.0.0.0 instead");
    address->host = "0.0.0.0";
    port = try_bind(address->host, address->port);
  }
  if (port < 0) {
    return unexpected("cannot listen on " + join_host_port(address->host, address->port) + ": " +
                      std::strerror(errno));
  }
  address->port = port;
  return address;
}

void ReadinessServer::serve() {
  m_impl->server.listen_after_bind();
}

void ReadinessServer::stop() {
  m_impl->server.stop();
}

int serve_readiness(const ReadinessServerOptions& options, const Logger& logger) {
  ignore_sigpipe();
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

  auto serving = std::async(std::launch::async, [&server] { server.serve(); });
  const int signal = signals.wait();
  logger.info("serve.stopping", "stopping", {{"signal", signal == SIGINT ? "SIGINT" : "SIGTERM"}});
  server.stop();
  if (serving.wait_for(k_stop_grace) != std::future_status::ready) {
    // A client still holds a connection; the state is already on disk, so nothing is lost by
    // not waiting for it.
    logger.info("serve.stopped", "stopped with connections still open");
    std::_Exit(exit_code::k_ok);
  }
  logger.info("serve.stopped", "stopped");
  return exit_code::k_ok;
}

} // namespace lameduck
