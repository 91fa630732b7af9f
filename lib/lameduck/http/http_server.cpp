#include "lameduck/http/http_server.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <array>
#include <cerrno>
#include <cstring>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <set>
#include <stdexcept>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>
#include <unordered_map>
#include <utility>
#include <vector>

namespace lameduck {

namespace {

// epoll's data for the descriptors that are not connections; connection ids start above them.
constexpr HttpConnectionId k_listener_id = 0;
constexpr HttpConnectionId k_stop_id = 1;
constexpr HttpConnectionId k_first_watch_id = 2;
constexpr HttpConnectionId k_first_connection_id = 1 << 20;

// The kernel's queue for connections not yet accepted: a burst of probes and pests waits there
// instead of being refused or waiting out a SYN retransmit (nginx uses 511 too).
constexpr int k_listen_backlog = 511;
// Connections accepted per turn of the loop, so that a flood of them cannot delay the
// exchanges already open.
constexpr int k_accepts_per_turn = 64;
constexpr std::size_t k_read_chunk = 4096;
// After a refusal, what the peer still sends is read and dropped (up to this much) until it
// closes, so that the refusal is not destroyed by a reset for unread bytes.
constexpr std::size_t k_max_discarded_bytes = 64 * 1024;
// Descriptors kept free of connections: the listener, epoll, the watched fds, the state file,
// the upstream check's socket. Without them accept() would fail with EMFILE while the
// listener stays readable, and the loop would spin.
constexpr rlim_t k_reserved_descriptors = 64;

// The connection cap, lowered to what the process may open.
std::size_t connection_cap(std::size_t wanted) {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) {
    return wanted;
  }
  // As nginx's worker_rlimit_nofile does: take what the hard limit allows.
  if (limit.rlim_cur < limit.rlim_max) {
    rlimit raised = limit;
    raised.rlim_cur = limit.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) {
      limit = raised;
    }
  }
  if (limit.rlim_cur == RLIM_INFINITY) {
    return wanted;
  }
  const rlim_t usable = limit.rlim_cur > 2 * k_reserved_descriptors ? limit.rlim_cur - k_reserved_descriptors
                                                                    : limit.rlim_cur / 2;
  return std::min<std::size_t>(wanted, usable);
}

enum class Phase {
  reading,   // waiting for (the rest of) a request
  answering, // the handler answers later
  writing,   // the answer is leaving
  closing,   // refused: the answer has left, the peer's bytes are dropped until it closes
};

struct Connection {
  int fd = -1;
  HttpConnectionId id = 0;
  std::string peer;
  Phase phase = Phase::reading;
  std::string in;
  std::size_t head_scanned = 0;  // bytes of `in` already looked at for the end of the head
  std::size_t request_bytes = 0; // head and body, once the head is parsed and the body is not all in
  std::string out;
  std::size_t out_sent = 0;
  bool keep_alive = true;
  bool peer_closed = false;
  bool request_begun = false; // some bytes of the current request have arrived
  bool is_head_request = false;
  bool http_1_0 = false;
  std::size_t discarded = 0;
  Clock::time_point deadline;
  // When it became idle, or when its request began, as a count of such events: the loop reads
  // the clock once per turn, and several connections can change in one turn.
  std::uint64_t order = 0;
  std::uint32_t events = 0;
};

std::string peer_address(const sockaddr_storage& address) {
  char text[INET6_ADDRSTRLEN] = {};
  if (address.ss_family == AF_INET) {
    const auto& v4 = reinterpret_cast<const sockaddr_in&>(address);
    ::inet_ntop(AF_INET, &v4.sin_addr, text, sizeof text);
  } else if (address.ss_family == AF_INET6) {
    const auto& v6 = reinterpret_cast<const sockaddr_in6&>(address);
    ::inet_ntop(AF_INET6, &v6.sin6_addr, text, sizeof text);
  }
  return text;
}

std::string render_answer(const HttpServerAnswer& answer, bool head_only, bool keep_alive, bool http_1_0) {
  std::string text;
  text.reserve(160 + (head_only ? 0 : answer.body.size()));
  text += "HTTP/1.1 ";
  text += std::to_string(answer.status);
  text += ' ';
  text += http_status_text(answer.status);
  text += "\r\n";
  if (!answer.content_type.empty()) {
    text += "Content-Type: ";
    text += answer.content_type;
    text += "\r\n";
  }
  text += "Content-Length: ";
  text += std::to_string(answer.body.size());
  text += "\r\n";
  if (!answer.allow.empty()) {
    text += "Allow: ";
    text += answer.allow;
    text += "\r\n";
  }
  if (!keep_alive) {
    text += "Connection: close\r\n";
  } else if (http_1_0) {
    text += "Connection: keep-alive\r\n";
  }
  text += "\r\n";
  if (!head_only) {
    text += answer.body;
  }
  return text;
}

HttpServerAnswer refusal_answer(int status, std::string_view reason) {
  std::string body = std::to_string(status);
  body += ' ';
  body += http_status_text(status);
  body += ": ";
  body += reason;
  body += '\n';
  return {.status = status, .content_type = "text/plain; charset=utf-8", .body = std::move(body), .allow = {}};
}

int milliseconds_until(Clock::time_point when, Clock::time_point now) {
  if (when <= now) {
    return 0;
  }
  // Rounded up: waking a little early would only turn the loop once for nothing.
  const auto ms = std::chrono::ceil<std::chrono::milliseconds>(when - now).count();
  return static_cast<int>(std::min<long long>(ms, 24LL * 3600 * 1000));
}

} // namespace

std::string_view http_status_text(int status) {
  switch (status) {
  case 200: return "OK";
  case 400: return "Bad Request";
  case 403: return "Forbidden";
  case 404: return "Not Found";
  case 405: return "Method Not Allowed";
  case 408: return "Request Timeout";
  case 411: return "Length Required";
  case 413: return "Payload Too Large";
  case 431: return "Request Header Fields Too Large";
  case 500: return "Internal Server Error";
  case 503: return "Service Unavailable";
  case 505: return "HTTP Version Not Supported";
  default: return "Unknown";
  }
}

struct HttpServer::Impl {
  Impl(Handler handler_in, HttpServerLimits limits_in) : handler(std::move(handler_in)), limits(limits_in) {
    limits.max_connections = connection_cap(limits.max_connections);
    epoll_fd = ::epoll_create1(EPOLL_CLOEXEC);
    stop_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (epoll_fd < 0 || stop_fd < 0) {
      throw std::runtime_error(std::string("cannot set up the event loop: ") + std::strerror(errno));
    }
    add_to_epoll(stop_fd, k_stop_id, EPOLLIN);
  }

  ~Impl() {
    for (auto& [id, connection] : connections) {
      ::close(connection.fd);
    }
    for (const int fd : {listen_fd, stop_fd, epoll_fd}) {
      if (fd >= 0) {
        ::close(fd);
      }
    }
  }

  Handler handler;
  HttpServerLimits limits;
  int epoll_fd = -1;
  int stop_fd = -1;
  int listen_fd = -1;
  std::vector<std::function<void()>> watchers; // by id - k_first_watch_id
  std::unordered_map<HttpConnectionId, Connection> connections;
  // Every connection's deadline, soonest first: the loop sleeps until the first one.
  std::set<std::pair<Clock::time_point, HttpConnectionId>> deadlines;
  HttpConnectionId next_id = k_first_connection_id;
  std::uint64_t next_order = 0;
  bool stopping = false;

  void add_to_epoll(int fd, HttpConnectionId id, std::uint32_t events) const {
    epoll_event event{};
    event.events = events;
    event.data.u64 = id;
    if (::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &event) != 0) {
      throw std::runtime_error(std::string("epoll_ctl: ") + std::strerror(errno));
    }
  }

  void want(Connection& connection, std::uint32_t events) const {
    if (connection.events == events) {
      return;
    }
    epoll_event event{};
    event.events = events;
    event.data.u64 = connection.id;
    ::epoll_ctl(epoll_fd, EPOLL_CTL_MOD, connection.fd, &event);
    connection.events = events;
  }

  void set_deadline(Connection& connection, Clock::time_point when) {
    deadlines.erase({connection.deadline, connection.id});
    connection.deadline = when;
    deadlines.insert({when, connection.id});
  }

  void close_connection(HttpConnectionId id) {
    const auto found = connections.find(id);
    if (found == connections.end()) {
      return;
    }
    deadlines.erase({found->second.deadline, id});
    // Closing the descriptor also takes it out of the epoll set.
    ::close(found->second.fd);
    connections.erase(found);
  }

  // The connection a new one replaces when the cap is reached: the oldest idle one, else the
  // one whose unfinished request began first. Exchanges being answered are left to finish.
  std::optional<HttpConnectionId> choose_eviction() const {
    std::optional<HttpConnectionId> idle;
    std::optional<HttpConnectionId> unfinished;
    std::uint64_t idle_order = UINT64_MAX;
    std::uint64_t unfinished_order = UINT64_MAX;
    for (const auto& [id, connection] : connections) {
      if (connection.phase == Phase::closing || (connection.phase == Phase::reading && !connection.request_begun)) {
        if (connection.order < idle_order) {
          idle = id;
          idle_order = connection.order;
        }
      } else if (connection.phase == Phase::reading && connection.order < unfinished_order) {
        unfinished = id;
        unfinished_order = connection.order;
      }
    }
    return idle ? idle : unfinished;
  }

  void accept_connections(Clock::time_point now) {
    for (int accepted = 0; accepted < k_accepts_per_turn; ++accepted) {
      sockaddr_storage address{};
      socklen_t length = sizeof address;
      const int fd = ::accept4(listen_fd, reinterpret_cast<sockaddr*>(&address), &length,
                               SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        // EAGAIN: none left. EMFILE and the like: the pending ones wait for a slot.
        return;
      }
      if (connections.size() >= limits.max_connections) {
        const auto victim = choose_eviction();
        if (!victim) {
          ::close(fd);
          continue;
        }
        close_connection(*victim);
      }
      // An answer leaves in one write; no need to wait for the ACK of an earlier one.
      const int on = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
      const HttpConnectionId id = next_id++;
      Connection& connection = connections[id];
      connection.fd = fd;
      connection.id = id;
      connection.peer = peer_address(address);
      connection.order = next_order++;
      connection.events = EPOLLIN;
      add_to_epoll(fd, id, EPOLLIN);
      set_deadline(connection, now + limits.request_timeout);
      // A prober sends its request with the connection: it is often there already.
      on_readable(connection, now);
    }
  }

  // Reads what has arrived; returns false when the connection was closed.
  bool receive(Connection& connection, Clock::time_point now) {
    const std::size_t limit = limits.max_head_bytes + limits.max_body_bytes;
    std::array<char, k_read_chunk> buffer;
    while (!connection.peer_closed && connection.in.size() < limit) {
      const std::size_t room = std::min(buffer.size(), limit - connection.in.size());
      const auto n = ::recv(connection.fd, buffer.data(), room, 0);
      if (n > 0) {
        if (!connection.request_begun) {
          connection.request_begun = true;
          connection.order = next_order++;
          if (connection.deadline > now + limits.request_timeout) {
            set_deadline(connection, now + limits.request_timeout);
          }
        }
        connection.in.append(buffer.data(), static_cast<std::size_t>(n));
        if (static_cast<std::size_t>(n) < room) {
          return true;
        }
        continue;
      }
      if (n == 0) {
        connection.peer_closed = true;
        return true;
      }
      if (errno == EINTR) {
        continue;
      }
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        return true;
      }
      close_connection(connection.id);
      return false;
    }
    return true;
  }

  void on_readable(Connection& connection, Clock::time_point now) {
    if (connection.phase == Phase::closing) {
      discard_until_closed(connection);
      return;
    }
    if (connection.phase != Phase::reading) {
      return;
    }
    if (!receive(connection, now)) {
      return;
    }
    serve_buffered(connection, now);
  }

  // Answers every complete request in the buffer, in order, until one must wait. (A loop, not
  // recursion from each answer: a client may pipeline hundreds of small requests.)
  void serve_buffered(Connection& connection, Clock::time_point now) {
    const HttpConnectionId id = connection.id;
    while (connection.phase == Phase::reading && !connection.in.empty()) {
      const bool served = serve_one(connection, now);
      if (!connections.contains(id)) {
        return;
      }
      if (!served) {
        break;
      }
    }
    if (connection.phase == Phase::reading && connection.peer_closed) {
      // The peer has nothing more to send: what is left is an unfinished request.
      close_connection(id);
    }
  }

  // Whether the bytes that arrived since the last look may end the head: only an empty line
  // can, so a client that drips its head byte by byte costs no parse per byte.
  bool may_end_head(const Connection& connection) const {
    const std::size_t from = connection.head_scanned >= 2 ? connection.head_scanned - 2 : 0;
    for (auto newline = connection.in.find('\n', from); newline != std::string::npos;
         newline = connection.in.find('\n', newline + 1)) {
      if ((newline >= 1 && connection.in[newline - 1] == '\n') ||
          (newline >= 2 && connection.in[newline - 1] == '\r' && connection.in[newline - 2] == '\n')) {
        return true;
      }
    }
    return false;
  }

  // Serves the request at the front of the buffer; false when it is not complete yet.
  bool serve_one(Connection& connection, Clock::time_point now) {
    if (connection.in.size() < connection.request_bytes) {
      return false; // the head was parsed; the body is still arriving
    }
    // The first bytes are parsed at once, so that garbage is refused at once; after that, only
    // when the head may be complete or is too large already.
    if (connection.request_bytes == 0 && connection.head_scanned > 0 &&
        connection.in.size() <= limits.max_head_bytes && !may_end_head(connection)) {
      connection.head_scanned = connection.in.size();
      return false;
    }
    const auto parsed = parse_request_head(connection.in, limits.max_head_bytes);
    if (const auto* refusal = std::get_if<HttpHeadRefusal>(&parsed)) {
      refuse(connection, refusal->status, refusal->reason, now);
      return false;
    }
    const auto* head = std::get_if<HttpRequestHead>(&parsed);
    if (head == nullptr) {
      connection.head_scanned = connection.in.size();
      return false;
    }
    if (head->content_length > limits.max_body_bytes) {
      refuse(connection, 413, "the body is too large", now);
      return false;
    }
    const std::size_t request_bytes = head->head_bytes + head->content_length;
    if (connection.in.size() < request_bytes) {
      connection.request_bytes = request_bytes;
      return false;
    }
    connection.keep_alive = head->keep_alive;
    connection.is_head_request = head->method == "HEAD";
    connection.http_1_0 = head->http_1_0;
    const HttpServerRequest request{.head = *head,
                                    .body = std::string_view(connection.in).substr(head->head_bytes, head->content_length),
                                    .peer = connection.peer,
                                    .connection = connection.id};
    std::optional<HttpServerAnswer> answer = handler(request);
    connection.in.erase(0, request_bytes);
    connection.head_scanned = 0;
    connection.request_bytes = 0;
    connection.request_begun = !connection.in.empty();
    if (!answer) {
      connection.phase = Phase::answering;
      want(connection, 0);
      set_deadline(connection, now + limits.answer_timeout);
      return false;
    }
    send_answer(connection, *answer, now);
    return true;
  }

  void refuse(Connection& connection, int status, std::string_view reason, Clock::time_point now) {
    connection.keep_alive = false;
    connection.is_head_request = false;
    connection.in.clear();
    send_answer(connection, refusal_answer(status, reason), now);
  }

  void send_answer(Connection& connection, const HttpServerAnswer& answer, Clock::time_point now) {
    connection.out = render_answer(answer, connection.is_head_request, connection.keep_alive, connection.http_1_0);
    connection.out_sent = 0;
    connection.phase = Phase::writing;
    set_deadline(connection, now + limits.write_timeout);
    flush(connection, now);
  }

  void flush(Connection& connection, Clock::time_point now) {
    while (connection.out_sent < connection.out.size()) {
      const auto n = ::send(connection.fd, connection.out.data() + connection.out_sent,
                            connection.out.size() - connection.out_sent, MSG_NOSIGNAL);
      if (n > 0) {
        connection.out_sent += static_cast<std::size_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        want(connection, EPOLLOUT);
        return;
      }
      close_connection(connection.id);
      return;
    }
    connection.out.clear();
    connection.out.shrink_to_fit();
    connection.out_sent = 0;
    answered(connection, now);
  }

  // The answer has left: keep the connection for the next request, or let it go.
  void answered(Connection& connection, Clock::time_point now) {
    if (!connection.keep_alive) {
      // Refusals leave bytes unread; closing now would reset the connection and could destroy
      // the answer on its way. Nothing more is sent; what comes in is dropped until EOF.
      ::shutdown(connection.fd, SHUT_WR);
      connection.phase = Phase::closing;
      connection.order = next_order++;
      want(connection, EPOLLIN);
      discard_until_closed(connection);
      return;
    }
    if (connection.peer_closed && connection.in.empty()) {
      close_connection(connection.id);
      return;
    }
    connection.phase = Phase::reading;
    want(connection, EPOLLIN);
    if (connection.request_begun) {
      // Pipelined: the caller serves what is buffered next.
      connection.order = next_order++;
      set_deadline(connection, now + limits.request_timeout);
    } else {
      connection.order = next_order++;
      connection.in.shrink_to_fit();
      set_deadline(connection, now + limits.idle_timeout);
    }
  }

  void discard_until_closed(Connection& connection) {
    std::array<char, k_read_chunk> buffer;
    while (true) {
      const auto n = ::recv(connection.fd, buffer.data(), buffer.size(), 0);
      if (n > 0) {
        connection.discarded += static_cast<std::size_t>(n);
        if (connection.discarded > k_max_discarded_bytes) {
          close_connection(connection.id);
          return;
        }
        continue;
      }
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        return;
      }
      close_connection(connection.id); // EOF or an error: done
      return;
    }
  }

  void on_event(HttpConnectionId id, std::uint32_t events, Clock::time_point now) {
    const auto found = connections.find(id);
    if (found == connections.end()) {
      return; // closed earlier in this turn
    }
    Connection& connection = found->second;
    if ((events & (EPOLLERR | EPOLLHUP)) != 0 && connection.phase != Phase::reading) {
      close_connection(id);
      return;
    }
    if ((events & EPOLLOUT) != 0 && connection.phase == Phase::writing) {
      flush(connection, now);
      serve_next(id, now);
      return;
    }
    if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR)) != 0) {
      on_readable(connection, now);
    }
  }

  // After an answer that left later than its request came: the requests pipelined behind it.
  void serve_next(HttpConnectionId id, Clock::time_point now) {
    const auto found = connections.find(id);
    if (found != connections.end() && found->second.phase == Phase::reading && !found->second.in.empty()) {
      serve_buffered(found->second, now);
    }
  }

  void expire(Clock::time_point now) {
    while (!deadlines.empty() && deadlines.begin()->first <= now) {
      const HttpConnectionId id = deadlines.begin()->second;
      const auto found = connections.find(id);
      if (found != connections.end() && found->second.phase == Phase::reading && found->second.request_begun) {
        // One attempt to say why, never waited for.
        const std::string answer = render_answer(refusal_answer(408, "the request took too long"), false, false, false);
        ::send(found->second.fd, answer.data(), answer.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      }
      close_connection(id);
    }
  }

  void run() {
    std::array<epoll_event, 64> events;
    while (!stopping) {
      const int timeout = deadlines.empty() ? -1 : milliseconds_until(deadlines.begin()->first, Clock::now());
      const int ready = ::epoll_wait(epoll_fd, events.data(), static_cast<int>(events.size()), timeout);
      if (ready < 0 && errno != EINTR) {
        throw std::runtime_error(std::string("epoll_wait: ") + std::strerror(errno));
      }
      const auto now = Clock::now();
      for (int i = 0; i < ready; ++i) {
        const HttpConnectionId id = events[i].data.u64;
        if (id == k_listener_id) {
          accept_connections(now);
        } else if (id == k_stop_id) {
          stopping = true;
        } else if (id < k_first_connection_id) {
          watchers[id - k_first_watch_id]();
        } else {
          on_event(id, events[i].events, now);
        }
      }
      expire(Clock::now());
    }
    while (!connections.empty()) {
      close_connection(connections.begin()->first);
    }
  }
};

HttpServer::HttpServer(Handler handler, HttpServerLimits limits)
    : m_impl(std::make_unique<Impl>(std::move(handler), limits)) {}

HttpServer::~HttpServer() = default;

Expected<int> HttpServer::listen(const std::string& host, int port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port);
  if (const int error = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &found); error != 0) {
    return unexpected(std::string(::gai_strerror(error)));
  }
  std::string problem = "no address";
  for (const addrinfo* address = found; address != nullptr; address = address->ai_next) {
    const int fd = ::socket(address->ai_family, address->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      problem = std::strerror(errno);
      continue;
    }
    const int on = 1;
    const int off = 0;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    if (address->ai_family == AF_INET6) {
      // "[::]" means every address, IPv4 included, whatever the system's default is.
      ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);
    }
    if (::bind(fd, address->ai_addr, address->ai_addrlen) != 0 || ::listen(fd, k_listen_backlog) != 0) {
      problem = std::strerror(errno);
      ::close(fd);
      continue;
    }
    sockaddr_storage bound{};
    socklen_t length = sizeof bound;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &length);
    const int bound_port = ntohs(bound.ss_family == AF_INET ? reinterpret_cast<const sockaddr_in&>(bound).sin_port
                                                            : reinterpret_cast<const sockaddr_in6&>(bound).sin6_port);
    ::freeaddrinfo(found);
    m_impl->listen_fd = fd;
    m_impl->add_to_epoll(fd, k_listener_id, EPOLLIN);
    return bound_port;
  }
  ::freeaddrinfo(found);
  errno = 0;
  return unexpected(problem);
}

void HttpServer::watch(int fd, std::function<void()> on_readable) {
  m_impl->watchers.push_back(std::move(on_readable));
  m_impl->add_to_epoll(fd, k_first_watch_id + m_impl->watchers.size() - 1, EPOLLIN);
}

void HttpServer::answer_later(HttpConnectionId connection, HttpServerAnswer answer) {
  const auto found = m_impl->connections.find(connection);
  if (found == m_impl->connections.end() || found->second.phase != Phase::answering) {
    return;
  }
  const auto now = Clock::now();
  m_impl->send_answer(found->second, answer, now);
  m_impl->serve_next(connection, now);
}

void HttpServer::run() {
  m_impl->run();
}

void HttpServer::stop() {
  const std::uint64_t one = 1;
  // The counter cannot overflow from stop() calls; a failed write leaves it readable anyway.
  [[maybe_unused]] const auto written = ::write(m_impl->stop_fd, &one, sizeof one);
}

std::size_t HttpServer::connection_count() const {
  return m_impl->connections.size();
}

} // namespace lameduck
