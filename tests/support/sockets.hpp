#pragma once

// Raw TCP for tests that must behave like no well-mannered HTTP client does: send garbage,
// hold a connection open, connect from a chosen source address.

#include "lameduck/core/deadline.hpp"

#include <string>
#include <string_view>

namespace lameduck::test {

// A loopback port nothing listens on: bound, never listened on, closed.
int closed_port();

// A listening socket on a free loopback port, for tests that must see a connection arrive
// (or answer it byte for byte) below any HTTP library.
class LoopbackListener {
public:
  LoopbackListener();
  ~LoopbackListener();
  LoopbackListener(const LoopbackListener&) = delete;
  LoopbackListener& operator=(const LoopbackListener&) = delete;

  int port() const { return m_port; }
  // The listening socket, for servers that poll it beside other descriptors.
  int fd() const { return m_fd; }
  // The next connection's descriptor (the caller closes it). Throws at the deadline.
  int accept(const Deadline& deadline) const;

private:
  int m_port = 0; // before m_fd, which is bound (and sets it) when constructed
  int m_fd = -1;
};

class TcpConnection {
public:
  // Connects to host:port (IPv4 or IPv6 literal), from `source` when given. Throws on failure.
  TcpConnection(const std::string& host, int port, const std::string& source = {});
  ~TcpConnection();
  TcpConnection(const TcpConnection&) = delete;
  TcpConnection& operator=(const TcpConnection&) = delete;

  void send(std::string_view bytes) const;
  // Everything until the peer closes or the deadline passes.
  std::string receive_all(const Deadline& deadline) const;

private:
  int m_fd = -1;
};

// One HTTP/1.1 exchange over a fresh connection with `Connection: close`; returns the whole
// raw answer (status line, headers, body).
std::string raw_http_exchange(const std::string& host, int port, std::string_view request, const Deadline& deadline,
                              const std::string& source = {});

// The status code of a raw HTTP answer, or 0.
int raw_http_status(std::string_view answer);

} // namespace lameduck::test
