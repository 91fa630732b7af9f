#pragma once

// An HTTP/1.1 server on one event loop (epoll, non-blocking sockets), for servers that face the
// pod network: an open connection costs a small buffer and a deadline, never a thread, so no
// number of slow or silent clients can keep an answer from the next one. Each connection has
// a deadline for its whole request (not per read), bounded head and body sizes, a keep-alive
// idle timeout; the number of connections is capped, and a new connection beyond the cap
// takes the place of the oldest idle one (else the oldest unfinished request).

#include "lameduck/core/deadline.hpp"
#include "lameduck/core/expected.hpp"
#include "lameduck/http/http_request_head.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace lameduck {

struct HttpServerLimits {
  // From accept, or from the first byte after a keep-alive answer, to the last byte of the
  // request's body.
  Duration request_timeout = std::chrono::seconds{1};
  // A kept-alive connection waits this long for its next request.
  Duration idle_timeout = std::chrono::seconds{5};
  // For an answer the handler gives later (answer_later()).
  Duration answer_timeout = std::chrono::seconds{5};
  // For the answer to leave, and then for the peer to close after a refusal.
  Duration write_timeout = std::chrono::seconds{1};
  std::size_t max_head_bytes = k_max_request_head_bytes;
  std::size_t max_body_bytes = 4096;
  std::size_t max_connections = 1024;
};

using HttpConnectionId = std::uint64_t;

struct HttpServerRequest {
  const HttpRequestHead& head;
  std::string_view body;
  const std::string& peer; // the peer's address, without its port
  HttpConnectionId connection;
};

struct HttpServerAnswer {
  int status = 200;
  std::string content_type;
  std::string body;
  std::string allow; // the Allow header, for a 405
};

// The reason phrase of the status codes the server sends ("Not Found").
std::string_view http_status_text(int status);

class HttpServer {
public:
  // Runs on the loop's thread. Returns the answer, or nothing when the answer will come later
  // through answer_later(); it must not block.
  using Handler = std::function<std::optional<HttpServerAnswer>(const HttpServerRequest&)>;

  explicit HttpServer(Handler handler, HttpServerLimits limits = {});
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and listens on host:port (port 0 picks a free one); returns the port bound.
  Expected<int> listen(const std::string& host, int port);

  // Runs `on_readable` on the loop's thread whenever `fd` is readable (a signal's self-pipe,
  // the end of work done on another thread). The fd stays the caller's to close.
  void watch(int fd, std::function<void()> on_readable);

  // The answer to a request the handler left for later; nothing happens when that connection
  // has closed since. Call on the loop's thread (from a watch() callback).
  void answer_later(HttpConnectionId connection, HttpServerAnswer answer);

  // Serves until stop(); call after listen(). Closes every connection before it returns.
  void run();
  // From any thread, also before run(): run() returns at its next turn.
  void stop();

  std::size_t connection_count() const;

private:
  struct Impl;
  std::unique_ptr<Impl> m_impl;
};

} // namespace lameduck
