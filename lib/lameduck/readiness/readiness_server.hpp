#pragma once

// readyz-toggle's server: /readyz for the kubelet's readiness probe, /livez, /metrics, and
// the loopback-only switch that prestop flips. It serves from one event loop (http_server.hpp),
// so it answers a probe within the upstream timeout whatever else its clients do, and idles
// on one thread without waking up.

#include "lameduck/core/duration.hpp"
#include "lameduck/core/expected.hpp"
#include "lameduck/core/log.hpp"
#include "lameduck/core/url.hpp"

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace lameduck {

class ShutdownSignals;

inline constexpr const char* k_default_listen = "[::]:7979";
inline constexpr auto k_default_upstream_timeout = std::chrono::milliseconds{800};

struct ReadinessServerOptions {
  std::string listen = k_default_listen;
  std::optional<Url> upstream; // the agent's own health URL, when /readyz should include it
  Duration upstream_timeout = k_default_upstream_timeout;
  std::string state_file;
  bool start_ready = true;
};

struct ListenAddress {
  std::string host; // without brackets; "::" listens on IPv6 and IPv4 at once
  int port = 0;     // 0 picks a free port
};

// "[::]:7979", "0.0.0.0:7979", "127.0.0.1:0", ":7979" (every address).
Expected<ListenAddress> parse_listen_address(std::string_view text);

class ReadinessServer {
public:
  ReadinessServer(ReadinessServerOptions options, const Logger& logger);
  ~ReadinessServer();
  ReadinessServer(const ReadinessServer&) = delete;
  ReadinessServer& operator=(const ReadinessServer&) = delete;

  // Binds the listening socket; returns the address and the port actually bound.
  Expected<ListenAddress> bind();
  // Serves until stop(); call after bind(), from the thread that should serve.
  void serve();
  // Serves until stop() or until one of `signals` arrives; returns the signal, or 0 after stop().
  int serve(const ShutdownSignals& signals);
  // From any thread: serve() closes every connection and returns at its loop's next turn.
  void stop();

  // A thread asking --upstream is running (the one thread besides the loop's).
  bool upstream_check_in_flight() const;

private:
  struct Impl;
  std::unique_ptr<Impl> m_impl;
};

// `readyz-toggle serve`: binds, logs "serve.listening", serves until SIGTERM or SIGINT and
// exits within one second of it. Returns the exit code.
int serve_readiness(const ReadinessServerOptions& options, const Logger& logger);

} // namespace lameduck
