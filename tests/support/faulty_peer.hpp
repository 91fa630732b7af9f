#pragma once

// A peer that misbehaves the way real ones do in an outage, under overload or in an attack:
// it accepts and hangs, resets the connection, breaks off in the middle of its answer, never
// finishes a TLS handshake, answers with a TLS alert, or trickles its answer a byte a second.
// The fault suite points the real tools at it, in place of each peer they talk to.

#include "support/sockets.hpp"

#include <condition_variable>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace lameduck::test {

enum class PeerFault {
  hang,                    // reads the request, never answers
  reset_after_request,     // reads the request, then resets the connection (RST, no FIN)
  close_after_status_line, // sends "HTTP/1.1 200 OK" and closes
  close_after_headers,     // sends the head of a 200 whose body never comes, and closes
  trickle,                 // sends a whole 200 answer, one byte a second
  stall_handshake,         // TLS: reads the ClientHello and never answers it
  tls_alert,               // TLS: answers the ClientHello with a fatal handshake_failure alert
};

enum class PeerTransport { plain, tls };

std::string_view peer_fault_name(PeerFault fault);

// The faults that make sense over a transport: the two handshake faults need TLS.
std::vector<PeerFault> peer_faults(PeerTransport transport);

class FaultyPeer {
public:
  // Listens on a free loopback port at once. With TLS it presents test_certificates().
  FaultyPeer(PeerFault fault, PeerTransport transport);
  // Ends every connection it holds and joins its threads.
  ~FaultyPeer();
  FaultyPeer(const FaultyPeer&) = delete;
  FaultyPeer& operator=(const FaultyPeer&) = delete;

  int port() const { return m_listener.port(); }
  // "http(s)://127.0.0.1:PORT" followed by `path`.
  std::string url(std::string_view path = "") const;
  // Connections accepted so far: proof that the tool did reach this peer.
  int connections() const;
  std::string describe() const;

private:
  void accept_loop();
  void serve(int fd);
  // Blocks until the peer is destroyed or `for_ms` passes; false once it is being destroyed.
  bool pause(int for_ms);

  PeerFault m_fault;
  PeerTransport m_transport;
  LoopbackListener m_listener;
  int m_wake_fds[2] = {-1, -1}; // written when the peer is destroyed, to end the accept loop
  mutable std::mutex m_mutex;
  std::condition_variable m_stopping_changed;
  bool m_stopping = false;
  int m_accepted = 0;
  std::set<int> m_open_fds;
  std::vector<std::thread> m_connections;
  std::thread m_acceptor;
};

} // namespace lameduck::test
