#include "lameduck/core/fd_wait.hpp"
#include "lameduck/http/http_server.hpp"

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <atomic>
#include <mutex>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>
#include <vector>

using namespace std::chrono_literals;
using lameduck::Clock;
using lameduck::Deadline;
using lameduck::HttpServer;
using lameduck::HttpServerAnswer;
using lameduck::HttpServerLimits;
using lameduck::HttpServerRequest;

namespace {

// An HttpServer on a free loopback port with tight limits, serving on its own thread; its
// handler echoes the method, path and body, and records each request it saw.
class EchoServer {
public:
  explicit EchoServer(HttpServerLimits limits)
      : m_later_fd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)),
        m_server([this](const HttpServerRequest& request) { return answer(request); }, limits) {
    m_port = m_server.listen("127.0.0.1", 0).value();
    // As work done on another thread would: the loop learns of it through a descriptor.
    m_server.watch(m_later_fd, [this] {
      std::uint64_t count = 0;
      [[maybe_unused]] const auto read = ::read(m_later_fd, &count, sizeof count);
      m_server.answer_later(m_waiting, {.status = 503, .content_type = "text/plain", .body = "later", .allow = {}});
    });
    m_thread = std::thread([this] { m_server.run(); });
  }
  ~EchoServer() {
    m_server.stop();
    m_thread.join();
    ::close(m_later_fd);
  }

  int port() const { return m_port; }
  std::vector<std::string> seen() const {
    const std::lock_guard lock(m_mutex);
    return m_seen;
  }

private:
  std::optional<HttpServerAnswer> answer(const HttpServerRequest& request) {
    std::string seen = std::string(request.head.method) + " " + std::string(request.head.path) + " [" +
                       std::string(request.body) + "]";
    {
      const std::lock_guard lock(m_mutex);
      m_seen.push_back(seen);
    }
    // Answered through answer_later(), after a round trip through the loop.
    if (request.head.path == "/later") {
      m_waiting = request.connection;
      const std::uint64_t one = 1;
      [[maybe_unused]] const auto written = ::write(m_later_fd, &one, sizeof one);
      return std::nullopt;
    }
    return HttpServerAnswer{.status = 200, .content_type = "text/plain", .body = seen, .allow = {}};
  }

  mutable std::mutex m_mutex;
  std::vector<std::string> m_seen;
  int m_later_fd;
  lameduck::HttpConnectionId m_waiting = 0; // the loop's thread only
  HttpServer m_server;
  int m_port = 0;
  std::thread m_thread;
};

HttpServerLimits tight_limits() {
  HttpServerLimits limits;
  limits.request_timeout = 300ms;
  limits.idle_timeout = 300ms;
  limits.write_timeout = 300ms;
  limits.max_head_bytes = 1024;
  limits.max_body_bytes = 64;
  limits.max_connections = 4;
  return limits;
}

// For the tests of the cap: no connection times out while they run.
HttpServerLimits patient_limits() {
  HttpServerLimits limits = tight_limits();
  limits.request_timeout = 60s;
  limits.idle_timeout = 60s;
  return limits;
}

// A raw client socket: what a test sends and reads, byte for byte.
class Client {
public:
  explicit Client(int port) : m_fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(static_cast<std::uint16_t>(port));
    REQUIRE(::connect(m_fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  }
  ~Client() { ::close(m_fd); }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  void send(std::string_view bytes) const {
    REQUIRE(::send(m_fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size()));
  }
  // False when nothing (more) came before the deadline.
  bool read_some(const Deadline& deadline) {
    const auto readable = lameduck::wait_for_fd(m_fd, POLLIN, deadline);
    if (!readable || !*readable) {
      return false;
    }
    char buffer[4096];
    const auto n = ::recv(m_fd, buffer, sizeof buffer, 0);
    if (n <= 0) {
      m_closed = true;
      return true;
    }
    m_received.append(buffer, static_cast<std::size_t>(n));
    return true;
  }
  // The next whole answer (head and Content-Length body), taken off what was received.
  std::string answer(const Deadline& deadline) {
    while (true) {
      const auto head_end = m_received.find("\r\n\r\n");
      if (head_end != std::string::npos) {
        const auto length_at = m_received.find("Content-Length: ");
        const std::size_t length = length_at < head_end ? std::stoul(m_received.substr(length_at + 16)) : 0;
        const bool head_only = m_last_was_head;
        const std::size_t total = head_end + 4 + (head_only ? 0 : length);
        if (m_received.size() >= total) {
          std::string answer = m_received.substr(0, total);
          m_received.erase(0, total);
          return answer;
        }
      }
      if (m_closed || !read_some(deadline)) {
        return {};
      }
    }
  }
  // Whether the server closes the connection before the deadline.
  bool closed_by_server(const Deadline& deadline) {
    while (!m_closed) {
      if (!read_some(deadline)) {
        return false;
      }
    }
    return true;
  }
  void expect_head_answer() { m_last_was_head = true; }
  const std::string& received() const { return m_received; }

private:
  int m_fd;
  std::string m_received;
  bool m_closed = false;
  bool m_last_was_head = false;
};

} // namespace

TEST_CASE("HttpServer") {
  SUBCASE("a POST without Content-Length has an empty body; a body is passed whole") {
    EchoServer server(tight_limits());
    Client client(server.port());
    client.send("POST /flip HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(client.answer(Deadline::after(5s)).ends_with("\r\n\r\nPOST /flip []"));
    client.send("POST /flip HTTP/1.1\r\nContent-Length: 5\r\n\r\nhe");
    client.send("llo");
    CHECK(client.answer(Deadline::after(5s)).ends_with("\r\n\r\nPOST /flip [hello]"));
  }
  SUBCASE("requests pipelined in one write are answered in order, HEAD without a body") {
    EchoServer server(tight_limits());
    Client client(server.port());
    client.send("GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\nHEAD /c HTTP/1.1\r\nConnection: close\r\n\r\n");
    CHECK(client.answer(Deadline::after(5s)).ends_with("GET /a []"));
    CHECK(client.answer(Deadline::after(5s)).ends_with("GET /b []"));
    client.expect_head_answer();
    const auto head = client.answer(Deadline::after(5s));
    CHECK(head.find("Content-Length: 10\r\n") != std::string::npos);
    CHECK(head.find("Connection: close\r\n") != std::string::npos);
    CHECK(head.ends_with("\r\n\r\n"));
    CHECK(client.closed_by_server(Deadline::after(5s)));
    CHECK(client.received().empty());
  }
  SUBCASE("a head dripped within any per-read timeout is cut at the request's deadline, with a 408") {
    EchoServer server(tight_limits());
    Client client(server.port());
    const std::string head = "GET /slow HTTP/1.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const auto started = Clock::now();
    bool closed = false;
    for (const char byte : head) {
      client.send(std::string_view(&byte, 1));
      // Each byte comes well within the 300 ms timeout, as a per-read timeout would allow.
      if (client.closed_by_server(Deadline::after(100ms))) {
        closed = true;
        break;
      }
    }
    const auto took = Clock::now() - started;
    CHECK(closed);
    CHECK(took >= 300ms);
    CHECK(took < 2s);
    CHECK(client.received().starts_with("HTTP/1.1 408 Request Timeout\r\n"));
    CHECK(server.seen().empty());
  }
  SUBCASE("a kept-alive connection is closed once idle past its timeout") {
    EchoServer server(tight_limits());
    Client client(server.port());
    client.send("GET /a HTTP/1.1\r\n\r\n");
    CHECK(client.answer(Deadline::after(5s)).ends_with("GET /a []"));
    const auto answered = Clock::now();
    CHECK(client.closed_by_server(Deadline::after(5s)));
    CHECK(Clock::now() - answered >= 300ms);
    CHECK(client.received().empty()); // an idle connection is closed without a word
  }
  SUBCASE("at the cap, a new connection replaces the oldest idle one") {
    EchoServer server(patient_limits());
    std::vector<std::unique_ptr<Client>> clients;
    for (int i = 0; i < 4; ++i) {
      // An exchange each, so that the server has them all, in this order, and idle.
      clients.push_back(std::make_unique<Client>(server.port()));
      clients.back()->send("GET /" + std::to_string(i) + " HTTP/1.1\r\n\r\n");
      REQUIRE_FALSE(clients.back()->answer(Deadline::after(5s)).empty());
    }
    Client newcomer(server.port());
    newcomer.send("GET /new HTTP/1.1\r\n\r\n");
    CHECK(newcomer.answer(Deadline::after(5s)).ends_with("GET /new []"));
    CHECK(clients[0]->closed_by_server(Deadline::after(5s))); // the limits' timeouts are 60 s
    clients[1]->send("GET /still HTTP/1.1\r\n\r\n");
    CHECK(clients[1]->answer(Deadline::after(5s)).ends_with("GET /still []"));
  }
  SUBCASE("at the cap with no idle connection, the oldest unfinished request gives way") {
    EchoServer server(patient_limits());
    std::vector<std::unique_ptr<Client>> clients;
    for (int i = 0; i < 4; ++i) {
      clients.push_back(std::make_unique<Client>(server.port()));
      // The unfinished request rides in the same write as a whole one, so that once the whole
      // one is answered the server holds the start of the next: unfinished, not idle. Sent
      // apart, a loaded server may not have read it yet when the newcomer comes, and then
      // rightly takes that connection for idle.
      clients.back()->send("GET /" + std::to_string(i) + " HTTP/1.1\r\n\r\nGET /unfinished HTTP/1.1\r\n");
      REQUIRE_FALSE(clients.back()->answer(Deadline::after(5s)).empty());
    }
    Client newcomer(server.port());
    newcomer.send("GET /new HTTP/1.1\r\n\r\n");
    CHECK(newcomer.answer(Deadline::after(5s)).ends_with("GET /new []"));
    // The eviction came before the newcomer's answer; the bound only absorbs a loaded machine
    // (the limits' own timeouts are 60 s, so nothing else can close it within it).
    CHECK(clients[0]->closed_by_server(Deadline::after(5s)));
  }
  SUBCASE("refusals reach the client though it sent more than was read") {
    EchoServer server(tight_limits());
    Client big_head(server.port());
    big_head.send("GET / HTTP/1.1\r\nX: " + std::string(64 * 1024, 'a') + "\r\n\r\n");
    CHECK(big_head.answer(Deadline::after(5s)).starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"));
    Client big_body(server.port());
    big_body.send("POST / HTTP/1.1\r\nContent-Length: 65\r\n\r\n" + std::string(65, 'x'));
    CHECK(big_body.answer(Deadline::after(5s)).starts_with("HTTP/1.1 413 Payload Too Large\r\n"));
    Client garbage(server.port());
    garbage.send("\x16\x03\x01 not HTTP");
    const auto refusal = garbage.answer(Deadline::after(5s));
    CHECK(refusal.starts_with("HTTP/1.1 400 Bad Request\r\n"));
    CHECK(refusal.ends_with("400 Bad Request: this is not an HTTP request\n"));
    CHECK(garbage.closed_by_server(Deadline::after(5s)));
  }
  SUBCASE("an answer given later goes to its connection, and the next request follows") {
    EchoServer server(tight_limits());
    Client client(server.port());
    client.send("GET /later HTTP/1.1\r\n\r\nGET /after HTTP/1.1\r\n\r\n");
    CHECK(client.answer(Deadline::after(5s)).starts_with("HTTP/1.1 503 Service Unavailable\r\n"));
    CHECK(client.answer(Deadline::after(5s)).ends_with("GET /after []"));
  }
}

TEST_CASE("HttpServer::listen") {
  HttpServer first([](const HttpServerRequest&) { return std::nullopt; });
  const auto port = first.listen("127.0.0.1", 0).value();
  CHECK(port > 0);
  HttpServer taken([](const HttpServerRequest&) { return std::nullopt; });
  const auto again = taken.listen("127.0.0.1", port);
  REQUIRE_FALSE(again);
  CHECK(again.error().message == "Address already in use");
  CHECK_FALSE(taken.listen("not an address", 80));
}
