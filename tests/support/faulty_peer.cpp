#include "support/faulty_peer.hpp"

#include "support/test_tls.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <fcntl.h>
#include <memory>
#include <poll.h>
#include <stdexcept>
#include <sys/socket.h>
#include <unistd.h>

namespace lameduck::test {

namespace {

// The head of an answer every peer kind would accept, and a body it promises.
constexpr std::string_view k_answer_head =
    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 48\r\n\r\n";
constexpr std::string_view k_answer_body = R"({"kind":"Status","status":"Success","code":200} )";
// A TLS record: fatal alert (2), handshake_failure (40).
constexpr std::string_view k_handshake_failure_alert{"\x15\x03\x03\x00\x02\x02\x28", 7};
// Long enough for any tool under test to give up first.
constexpr int k_forever_ms = 120'000;

struct SslContextDeleter {
  void operator()(SSL_CTX* context) const { SSL_CTX_free(context); }
};
struct SslDeleter {
  void operator()(SSL* ssl) const { SSL_free(ssl); }
};

SSL_CTX* server_context() {
  static const std::unique_ptr<SSL_CTX, SslContextDeleter> context = [] {
    std::unique_ptr<SSL_CTX, SslContextDeleter> made(SSL_CTX_new(TLS_server_method()));
    const auto& certificates = test_certificates();
    if (!made || SSL_CTX_use_certificate_chain_file(made.get(), certificates.cert_file.c_str()) != 1 ||
        SSL_CTX_use_PrivateKey_file(made.get(), certificates.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
      throw std::runtime_error("cannot load the test certificate for a TLS peer");
    }
    return made;
  }();
  return context.get();
}

// One connection's byte stream, plain or inside TLS. Every read and write fails once the
// descriptor is shut down, which is how the peer's destructor ends a blocked connection.
class PeerStream {
public:
  explicit PeerStream(int fd) : m_fd(fd) {}

  bool start_tls() {
    m_ssl.reset(SSL_new(server_context()));
    return m_ssl && SSL_set_fd(m_ssl.get(), m_fd) == 1 && SSL_accept(m_ssl.get()) == 1;
  }

  // Reads up to the blank line that ends a request head; false when the client went away.
  bool read_request_head() {
    std::string head;
    char buffer[2048];
    while (head.find("\r\n\r\n") == std::string::npos) {
      const long got = m_ssl ? SSL_read(m_ssl.get(), buffer, sizeof buffer) : ::recv(m_fd, buffer, sizeof buffer, 0);
      if (got <= 0) {
        return false;
      }
      head.append(buffer, static_cast<std::size_t>(got));
    }
    return true;
  }

  // Whatever arrives first (a ClientHello, when the client speaks TLS).
  bool read_some() {
    char buffer[2048];
    return ::recv(m_fd, buffer, sizeof buffer, 0) > 0;
  }

  bool write(std::string_view bytes) {
    if (m_ssl) {
      return SSL_write(m_ssl.get(), bytes.data(), static_cast<int>(bytes.size())) == static_cast<int>(bytes.size());
    }
    return write_raw(bytes);
  }

  bool write_raw(std::string_view bytes) const {
    return ::send(m_fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<long>(bytes.size());
  }

  // RST instead of FIN: linger on, with no time to linger.
  void reset() const {
    const linger abort_on_close{.l_onoff = 1, .l_linger = 0};
    ::setsockopt(m_fd, SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof abort_on_close);
  }

private:
  int m_fd;
  std::unique_ptr<SSL, SslDeleter> m_ssl;
};

} // namespace

std::string_view peer_fault_name(PeerFault fault) {
  switch (fault) {
  case PeerFault::hang:
    return "accepts and hangs";
  case PeerFault::reset_after_request:
    return "resets after reading the request";
  case PeerFault::close_after_status_line:
    return "closes after the status line";
  case PeerFault::close_after_headers:
    return "closes after the headers";
  case PeerFault::trickle:
    return "trickles one byte a second";
  case PeerFault::stall_handshake:
    return "never finishes the TLS handshake";
  case PeerFault::tls_alert:
    return "answers the handshake with a TLS alert";
  }
  return "?";
}

std::vector<PeerFault> peer_faults(PeerTransport transport) {
  std::vector<PeerFault> faults{PeerFault::hang, PeerFault::reset_after_request, PeerFault::close_after_status_line,
                                PeerFault::close_after_headers, PeerFault::trickle};
  if (transport == PeerTransport::tls) {
    faults.insert(faults.end(), {PeerFault::stall_handshake, PeerFault::tls_alert});
  }
  return faults;
}

FaultyPeer::FaultyPeer(PeerFault fault, PeerTransport transport) : m_fault(fault), m_transport(transport) {
  if (transport == PeerTransport::tls) {
    server_context(); // certificates made now, not while a tool waits on the handshake
  }
  if (::pipe2(m_wake_fds, O_CLOEXEC) != 0) {
    throw std::runtime_error("cannot create a pipe for the faulty peer");
  }
  m_acceptor = std::thread([this] { accept_loop(); });
}

FaultyPeer::~FaultyPeer() {
  {
    const std::lock_guard lock(m_mutex);
    m_stopping = true;
    for (const int fd : m_open_fds) {
      ::shutdown(fd, SHUT_RDWR);
    }
  }
  m_stopping_changed.notify_all();
  [[maybe_unused]] const auto ignored = ::write(m_wake_fds[1], "x", 1);
  m_acceptor.join();
  for (auto& connection : m_connections) {
    connection.join();
  }
  ::close(m_wake_fds[0]);
  ::close(m_wake_fds[1]);
}

std::string FaultyPeer::url(std::string_view path) const {
  return std::string(m_transport == PeerTransport::tls ? "https" : "http") + "://127.0.0.1:" + std::to_string(port()) +
         std::string(path);
}

int FaultyPeer::connections() const {
  const std::lock_guard lock(m_mutex);
  return m_accepted;
}

std::string FaultyPeer::describe() const {
  return std::string(m_transport == PeerTransport::tls ? "TLS" : "plain") + " peer that " +
         std::string(peer_fault_name(m_fault));
}

void FaultyPeer::accept_loop() {
  for (;;) {
    pollfd ready[2] = {{m_listener.fd(), POLLIN, 0}, {m_wake_fds[0], POLLIN, 0}};
    if (::poll(ready, 2, -1) < 0 || (ready[1].revents & POLLIN) != 0) {
      return;
    }
    const int fd = ::accept4(m_listener.fd(), nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      continue;
    }
    const std::lock_guard lock(m_mutex);
    if (m_stopping) {
      ::close(fd);
      return;
    }
    ++m_accepted;
    m_open_fds.insert(fd);
    m_connections.emplace_back([this, fd] { serve(fd); });
  }
}

bool FaultyPeer::pause(int for_ms) {
  std::unique_lock lock(m_mutex);
  return !m_stopping_changed.wait_for(lock, std::chrono::milliseconds{for_ms}, [this] { return m_stopping; });
}

void FaultyPeer::serve(int fd) {
  PeerStream stream(fd);
  const bool tls = m_transport == PeerTransport::tls;
  const auto behave = [&] {
    if (m_fault == PeerFault::stall_handshake) {
      stream.read_some();
      pause(k_forever_ms);
      return;
    }
    if (m_fault == PeerFault::tls_alert) {
      stream.read_some();
      stream.write_raw(k_handshake_failure_alert);
      return;
    }
    if ((tls && !stream.start_tls()) || !stream.read_request_head()) {
      return;
    }
    switch (m_fault) {
    case PeerFault::hang:
      pause(k_forever_ms);
      return;
    case PeerFault::reset_after_request:
      stream.reset();
      return;
    case PeerFault::close_after_status_line:
      stream.write("HTTP/1.1 200 OK\r\n");
      return;
    case PeerFault::close_after_headers:
      stream.write(k_answer_head);
      return;
    case PeerFault::trickle: {
      const std::string answer = std::string(k_answer_head) + std::string(k_answer_body);
      for (const char byte : answer) {
        if (!stream.write(std::string_view(&byte, 1)) || !pause(1000)) {
          return;
        }
      }
      return;
    }
    case PeerFault::stall_handshake:
    case PeerFault::tls_alert:
      return;
    }
  };
  behave();
  // Closed without a TLS close_notify: the peer vanished, it did not say goodbye.
  const std::lock_guard lock(m_mutex);
  m_open_fds.erase(fd);
  ::close(fd);
}

} // namespace lameduck::test
