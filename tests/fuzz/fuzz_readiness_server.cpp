// readyz-toggle's server as the kubelet, prestop and any other peer reach it: each input is
// sent as raw bytes over a real loopback connection (any method, path, headers, body, or
// none of these) that is then closed, and afterwards the probe must still get its answer.
// Never a crash, a hang or a probe left unanswered.

#include "fuzz_target.hpp"
#include "lameduck/core/fd_wait.hpp"
#include "lameduck/readiness/readiness_server.hpp"

#include <arpa/inet.h>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

namespace {

const lameduck::Logger k_quiet("readyz-toggle", lameduck::LogFormat::json, lameduck::LogLevel::error,
                               [](std::string_view) {});

int server_port() {
  static const int port = [] {
    // Never destroyed: its loop may still be answering when the process exits.
    static auto* server = new lameduck::ReadinessServer({.listen = "127.0.0.1:0"}, k_quiet);
    const auto bound = server->bind();
    lameduck::fuzz::require(bound.has_value());
    std::thread([] { server->serve(); }).detach();
    return bound->port;
  }();
  return port;
}

// A connection to the server. A connect() that fails is tried again for up to a second (on a
// loaded machine, thousands of loopback connections a second can briefly run the client out
// of what the kernel will give it); one that still fails aborts with the reason, so a server
// that stopped listening is caught and named.
int connect_to_server() {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<std::uint16_t>(server_port()));
  for (int attempt = 1;; ++attempt) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0) {
      return fd;
    }
    const int error = errno;
    ::close(fd);
    if (attempt == 20) {
      std::fprintf(stderr, "cannot connect to the readiness server: %s\n", std::strerror(error));
      std::abort();
    }
    ::poll(nullptr, 0, 50);
  }
}

void send_all(int fd, std::string_view bytes) {
  for (std::size_t sent = 0; sent < bytes.size();) {
    const auto n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) {
      return; // the server may close early on a bad request
    }
    sent += static_cast<std::size_t>(n);
  }
}

// The status line of the answer to a probe; a server that has not answered within 10 s hangs.
// (How fast probes are answered while clients misbehave is the integration tests' concern;
// under libFuzzer and ASan the server sees hundreds of hostile connections a second.)
// The wait rides out signals: libFuzzer's -timeout runs a SIGALRM timer, and a bare poll()
// that it interrupts would read as a server that never answered.
std::string probe() {
  const int fd = connect_to_server();
  send_all(fd, "GET /readyz HTTP/1.1\r\nHost: pod\r\nUser-Agent: kube-probe/1.32\r\nConnection: close\r\n\r\n");
  std::string answer;
  char buffer[4096];
  const auto deadline = lameduck::Deadline::after(std::chrono::seconds{10});
  while (answer.find("\r\n") == std::string::npos) {
    const auto readable = lameduck::wait_for_fd(fd, POLLIN, deadline);
    lameduck::fuzz::require(readable.has_value() && *readable);
    const auto n = ::read(fd, buffer, sizeof buffer);
    if (n <= 0) {
      break;
    }
    answer.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return answer.substr(0, answer.find("\r\n"));
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const int fd = connect_to_server();
  send_all(fd, lameduck::fuzz::as_text(data, size));
  ::close(fd);
  const std::string status = probe();
  lameduck::fuzz::require(status == "HTTP/1.1 200 OK" || status == "HTTP/1.1 503 Service Unavailable");
  return 0;
}
