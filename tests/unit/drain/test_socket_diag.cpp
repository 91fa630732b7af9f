#include "lameduck/drain/socket_diag.hpp"

#include "lameduck/core/fd_wait.hpp"

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <cerrno>
#include <climits>
#include <cstring>
#include <functional>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdexcept>
#include <sys/socket.h>
#include <unistd.h>

using lameduck::Deadline;
using lameduck::parse_sock_diag_messages;
using lameduck::TcpSocketReading;
using namespace std::chrono_literals;

namespace {

constexpr int k_established = 1;
constexpr int k_time_wait = 6;
constexpr int k_listen = 10;

// An inet_diag dump as the kernel writes it, one message at a time, each padded to 4 bytes.
class DumpBuilder {
public:
  struct Socket {
    int family = AF_INET;
    const char* local = "10.1.2.3";
    int local_port = 8080;
    const char* peer = "10.9.8.7";
    int peer_port = 41234;
    int state = k_established;
    std::uint64_t cookie = 0x1122334455667788;
    std::optional<std::uint64_t> bytes_received = 1500; // none: no INET_DIAG_INFO
    std::size_t tcp_info_bytes = sizeof(tcp_info);
  };

  DumpBuilder& socket(const Socket& socket) {
    inet_diag_msg message{};
    message.idiag_family = static_cast<std::uint8_t>(socket.family);
    message.idiag_state = static_cast<std::uint8_t>(socket.state);
    message.id.idiag_sport = htons(static_cast<std::uint16_t>(socket.local_port));
    message.id.idiag_dport = htons(static_cast<std::uint16_t>(socket.peer_port));
    REQUIRE(::inet_pton(socket.family, socket.local, message.id.idiag_src) == 1);
    REQUIRE(::inet_pton(socket.family, socket.peer, message.id.idiag_dst) == 1);
    message.id.idiag_cookie[0] = static_cast<std::uint32_t>(socket.cookie);
    message.id.idiag_cookie[1] = static_cast<std::uint32_t>(socket.cookie >> 32);
    std::vector<std::uint8_t> payload = bytes_of(message);
    if (socket.bytes_received) {
      tcp_info info{};
      info.tcpi_bytes_received = *socket.bytes_received;
      auto info_bytes = bytes_of(info);
      info_bytes.resize(socket.tcp_info_bytes);
      append_attribute(payload, INET_DIAG_INFO, info_bytes);
    }
    return message_of(SOCK_DIAG_BY_FAMILY, payload);
  }
  DumpBuilder& done(int code = 0) { return message_of(NLMSG_DONE, bytes_of(code)); }
  DumpBuilder& error(int code) {
    nlmsgerr error{};
    error.error = code;
    return message_of(NLMSG_ERROR, bytes_of(error));
  }
  DumpBuilder& message_of(std::uint16_t type, const std::vector<std::uint8_t>& payload) {
    nlmsghdr header{};
    header.nlmsg_len = static_cast<std::uint32_t>(sizeof header + payload.size());
    header.nlmsg_type = type;
    header.nlmsg_flags = NLM_F_MULTI;
    append(m_bytes, bytes_of(header));
    append(m_bytes, payload);
    m_bytes.resize((m_bytes.size() + 3) & ~std::size_t{3});
    return *this;
  }
  static void append_attribute(std::vector<std::uint8_t>& payload, std::uint16_t type,
                               const std::vector<std::uint8_t>& value) {
    nlattr attribute{};
    attribute.nla_len = static_cast<std::uint16_t>(sizeof attribute + value.size());
    attribute.nla_type = type;
    append(payload, bytes_of(attribute));
    append(payload, value);
    payload.resize((payload.size() + 3) & ~std::size_t{3});
  }

  std::vector<std::uint8_t>& bytes() { return m_bytes; }

  template <typename T> static std::vector<std::uint8_t> bytes_of(const T& value) {
    std::vector<std::uint8_t> bytes(sizeof value);
    std::memcpy(bytes.data(), &value, sizeof value);
    return bytes;
  }

private:
  static void append(std::vector<std::uint8_t>& to, const std::vector<std::uint8_t>& bytes) {
    to.insert(to.end(), bytes.begin(), bytes.end());
  }

  std::vector<std::uint8_t> m_bytes;
};

// The error's text, or "" when there was none: a check of the text then fails instead of
// aborting on a value (doctest may also build a REQUIRE's message when nothing failed).
template <typename T> std::string error_of(const lameduck::Expected<T>& result) {
  return result ? std::string() : result.error().message;
}

std::string parse_error(const std::vector<std::uint8_t>& bytes) {
  return error_of(parse_sock_diag_messages(bytes));
}

lameduck::Expected<lameduck::SockDiagBatch> parse(const std::vector<std::uint8_t>& bytes, std::size_t length) {
  return parse_sock_diag_messages(std::span<const std::uint8_t>(bytes.data(), length));
}

bool same_socket(const TcpSocketReading& a, const TcpSocketReading& b) {
  return a.cookie == b.cookie && a.local_address == b.local_address && a.local_port == b.local_port &&
         a.peer_address == b.peer_address && a.peer_port == b.peer_port && a.state == b.state &&
         a.bytes_received == b.bytes_received;
}

// A socket descriptor that closes itself.
class Fd {
public:
  explicit Fd(int fd) : m_fd(fd) {
    if (fd < 0) {
      throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
    }
  }
  ~Fd() { close(); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return m_fd; }
  void close() {
    if (m_fd >= 0) {
      ::close(m_fd);
      m_fd = -1;
    }
  }

private:
  int m_fd;
};

sockaddr_storage address_of(const char* address, int port, socklen_t& length) {
  sockaddr_storage storage{};
  if (std::strchr(address, ':') != nullptr) {
    auto* ipv6 = reinterpret_cast<sockaddr_in6*>(&storage);
    ipv6->sin6_family = AF_INET6;
    ipv6->sin6_port = htons(static_cast<std::uint16_t>(port));
    REQUIRE(::inet_pton(AF_INET6, address, &ipv6->sin6_addr) == 1);
    length = sizeof *ipv6;
  } else {
    auto* ipv4 = reinterpret_cast<sockaddr_in*>(&storage);
    ipv4->sin_family = AF_INET;
    ipv4->sin_port = htons(static_cast<std::uint16_t>(port));
    REQUIRE(::inet_pton(AF_INET, address, &ipv4->sin_addr) == 1);
    length = sizeof *ipv4;
  }
  return storage;
}

int local_port_of(int fd) {
  sockaddr_storage storage{};
  socklen_t length = sizeof storage;
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&storage), &length) == 0);
  return ntohs(storage.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&storage)->sin6_port
                                             : reinterpret_cast<sockaddr_in*>(&storage)->sin_port);
}

// A listener on `address` (the socket's family follows it: "::ffff:127.0.0.1" gives an IPv6
// socket that IPv4 clients reach), a client connected to it, and the accepted connection.
struct Connection {
  int port = 0; // set while `accepted` is made, so declared before it
  int client_port = 0;
  Fd listener;
  Fd client;
  Fd accepted;

  Connection(const char* listen_address, const char* connect_address)
      : listener(::socket(std::strchr(listen_address, ':') ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)),
        client(::socket(std::strchr(connect_address, ':') ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)),
        accepted(connect_and_accept(listen_address, connect_address)) {}

private:
  int connect_and_accept(const char* listen_address, const char* connect_address) {
    socklen_t length = 0;
    auto address = address_of(listen_address, 0, length);
    REQUIRE(::bind(listener.get(), reinterpret_cast<sockaddr*>(&address), length) == 0);
    REQUIRE(::listen(listener.get(), 4) == 0);
    port = local_port_of(listener.get());
    address = address_of(connect_address, port, length);
    REQUIRE(::connect(client.get(), reinterpret_cast<sockaddr*>(&address), length) == 0);
    client_port = local_port_of(client.get());
    return ::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC);
  }
};

// Reads exactly `count` bytes, or fails the test at the deadline.
void receive_exactly(int fd, std::size_t count, const Deadline& deadline) {
  char buffer[4096];
  while (count > 0) {
    const auto readable = lameduck::wait_for_fd(fd, POLLIN, deadline);
    REQUIRE((readable && *readable));
    const ssize_t got = ::recv(fd, buffer, std::min(count, sizeof buffer), 0);
    REQUIRE(got > 0);
    count -= static_cast<std::size_t>(got);
  }
}

void wait_for_end_of_stream(int fd, const Deadline& deadline) {
  const auto readable = lameduck::wait_for_fd(fd, POLLIN, deadline);
  REQUIRE((readable && *readable));
  char byte = 0;
  REQUIRE(::recv(fd, &byte, 1, 0) == 0);
}

std::optional<TcpSocketReading> find_socket(const std::vector<TcpSocketReading>& sockets,
                                            const std::function<bool(const TcpSocketReading&)>& wanted) {
  for (const auto& socket : sockets) {
    if (wanted(socket)) {
      return socket;
    }
  }
  return std::nullopt;
}

// A port that no other socket of this network namespace has, on any address, for as long as
// it is held: bound on the IPv6 wildcard, dual-stack, never listened on. (A port that was free a
// moment ago may already hold a TIME_WAIT socket on another address.)
class HeldPort {
public:
  HeldPort() : m_fd(::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    const int dual_stack = 0;
    REQUIRE(::setsockopt(m_fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &dual_stack, sizeof dual_stack) == 0);
    socklen_t length = 0;
    auto address = address_of("::", 0, length);
    REQUIRE(::bind(m_fd.get(), reinterpret_cast<sockaddr*>(&address), length) == 0);
    m_port = local_port_of(m_fd.get());
  }
  int port() const { return m_port; }

private:
  Fd m_fd;
  int m_port = 0;
};

std::vector<TcpSocketReading> dump(int port) {
  auto sockets = lameduck::read_tcp_sockets_netlink({port}, Deadline::after(5s));
  REQUIRE_MESSAGE(sockets.has_value(), error_of(sockets));
  return *sockets;
}

} // namespace

TEST_CASE("parse_sock_diag_messages") {
  SUBCASE("an IPv4 and an IPv6 socket with tcp_info, then the end of the dump") {
    DumpBuilder dump;
    dump.socket({})
        .socket({.family = AF_INET6, .local = "fd00::3", .local_port = 7979, .peer = "fd00::9", .peer_port = 65535,
                 .state = k_time_wait, .cookie = 7, .bytes_received = 0})
        .done();
    const auto batch = parse_sock_diag_messages(dump.bytes());
    REQUIRE_MESSAGE(batch.has_value(), error_of(batch));
    CHECK(batch->done);
    REQUIRE(batch->sockets.size() == 2);
    const auto& ipv4 = batch->sockets[0];
    CHECK(ipv4.cookie == 0x1122334455667788U);
    CHECK(ipv4.local_address == "10.1.2.3");
    CHECK(ipv4.local_port == 8080);
    CHECK(ipv4.peer_address == "10.9.8.7");
    CHECK(ipv4.peer_port == 41234);
    CHECK(ipv4.state == k_established);
    CHECK(ipv4.bytes_received == 1500U);
    const auto& ipv6 = batch->sockets[1];
    CHECK(ipv6.cookie == 7U);
    CHECK(ipv6.local_address == "fd00::3");
    CHECK(ipv6.local_port == 7979);
    CHECK(ipv6.peer_address == "fd00::9");
    CHECK(ipv6.peer_port == 65535);
    CHECK(ipv6.state == k_time_wait);
    CHECK(ipv6.bytes_received == 0U);
  }
  SUBCASE("an IPv4-mapped IPv6 address is written as IPv4") {
    DumpBuilder dump;
    dump.socket({.family = AF_INET6, .local = "::ffff:10.1.2.3", .peer = "::ffff:10.9.8.7"});
    const auto batch = parse_sock_diag_messages(dump.bytes());
    REQUIRE(batch.has_value());
    REQUIRE(batch->sockets.size() == 1);
    CHECK(batch->sockets[0].local_address == "10.1.2.3");
    CHECK(batch->sockets[0].peer_address == "10.9.8.7");
    CHECK_FALSE(batch->done);
  }
  SUBCASE("without INET_DIAG_INFO, or with a tcp_info too old to hold the count, there is no count") {
    DumpBuilder dump;
    dump.socket({.bytes_received = std::nullopt})
        .socket({.tcp_info_bytes = offsetof(tcp_info, tcpi_bytes_received) + 7})
        .socket({.tcp_info_bytes = offsetof(tcp_info, tcpi_bytes_received) + 8});
    const auto batch = parse_sock_diag_messages(dump.bytes());
    REQUIRE(batch.has_value());
    REQUIRE(batch->sockets.size() == 3);
    CHECK_FALSE(batch->sockets[0].bytes_received);
    CHECK_FALSE(batch->sockets[1].bytes_received);
    CHECK(batch->sockets[2].bytes_received == 1500U);
  }
  SUBCASE("other attributes are stepped over") {
    std::vector<std::uint8_t> payload = DumpBuilder::bytes_of(inet_diag_msg{.idiag_family = AF_INET});
    DumpBuilder::append_attribute(payload, INET_DIAG_MEMINFO, {1, 2, 3}); // padded to 4
    tcp_info info{};
    info.tcpi_bytes_received = 42;
    DumpBuilder::append_attribute(payload, INET_DIAG_INFO, DumpBuilder::bytes_of(info));
    DumpBuilder dump;
    dump.message_of(SOCK_DIAG_BY_FAMILY, payload);
    const auto batch = parse_sock_diag_messages(dump.bytes());
    REQUIRE_MESSAGE(batch.has_value(), error_of(batch));
    REQUIRE(batch->sockets.size() == 1);
    CHECK(batch->sockets[0].bytes_received == 42U);
    CHECK(batch->sockets[0].local_address == "0.0.0.0");
  }
  SUBCASE("NLMSG_DONE ends the dump; what follows it is not read") {
    DumpBuilder dump;
    dump.done().socket({});
    const auto batch = parse_sock_diag_messages(dump.bytes());
    REQUIRE(batch.has_value());
    CHECK(batch->done);
    CHECK(batch->sockets.empty());
    CHECK(parse_sock_diag_messages({}).has_value());
    CHECK_FALSE(parse_sock_diag_messages({})->done);
  }
  SUBCASE("a dump that failed part-way, and NLMSG_ERROR, give the errno's text") {
    CHECK(parse_error(DumpBuilder().done(-EINTR).bytes()) ==
          "netlink dump: Interrupted system call");
    CHECK(parse_error(DumpBuilder().socket({}).error(-EPERM).bytes()) ==
          "netlink error: Operation not permitted");
    CHECK(parse_error(DumpBuilder().error(-EINVAL).bytes()) ==
          "netlink error: Invalid argument");
    CHECK(parse_error(DumpBuilder().error(INT_MIN).bytes()) ==
          "netlink error: error -2147483648");
    // An acknowledgement is an NLMSG_ERROR with code 0: no error.
    CHECK(parse_sock_diag_messages(DumpBuilder().error(0).done().bytes())->done);
  }
  SUBCASE("every prefix of a dump gives its whole sockets or an error, never a torn one") {
    DumpBuilder dump;
    dump.socket({})
        .socket({.family = AF_INET6, .local = "fd00::3", .peer = "::ffff:10.9.8.7", .bytes_received = std::nullopt})
        .socket({.local_port = 9090, .tcp_info_bytes = 200})
        .done();
    const auto& bytes = dump.bytes();
    const auto whole = parse_sock_diag_messages(bytes);
    REQUIRE(whole.has_value());
    REQUIRE(whole->sockets.size() == 3);
    int complete = 0;
    for (std::size_t length = 0; length < bytes.size(); ++length) {
      const auto batch = parse(bytes, length);
      if (!batch) {
        CHECK_FALSE(batch.error().message.empty());
        continue;
      }
      ++complete;
      CHECK_FALSE(batch->done);
      REQUIRE(batch->sockets.size() <= whole->sockets.size());
      for (std::size_t i = 0; i < batch->sockets.size(); ++i) {
        CHECK(same_socket(batch->sockets[i], whole->sockets[i]));
      }
    }
    CHECK(complete == 4); // empty, and cut after each of the three sockets
  }
  SUBCASE("a message longer than the buffer, or shorter than its header, is an error") {
    DumpBuilder dump;
    dump.socket({});
    auto bytes = dump.bytes();
    nlmsghdr header{};
    std::memcpy(&header, bytes.data(), sizeof header);
    header.nlmsg_len = static_cast<std::uint32_t>(bytes.size() + 4);
    std::memcpy(bytes.data(), &header, sizeof header);
    const std::string left = std::to_string(bytes.size());
    CHECK(parse_error(bytes) ==
          "netlink message: length " + std::to_string(bytes.size() + 4) + " does not fit the " + left + " bytes left");
    header.nlmsg_len = 0xffffffff;
    std::memcpy(bytes.data(), &header, sizeof header);
    CHECK(parse_error(bytes) == "netlink message: length 4294967295 does not fit the " + left + " bytes left");
    header.nlmsg_len = 0; // would never advance
    std::memcpy(bytes.data(), &header, sizeof header);
    CHECK(parse_error(bytes) == "netlink message: length 0 does not fit the " + left + " bytes left");
  }
  SUBCASE("an attribute of length 0, or longer than its message, is an error, not an endless loop") {
    DumpBuilder dump;
    dump.socket({});
    auto bytes = dump.bytes();
    const std::size_t attribute_at = sizeof(nlmsghdr) + sizeof(inet_diag_msg);
    nlattr attribute{};
    std::memcpy(&attribute, bytes.data() + attribute_at, sizeof attribute);
    const std::size_t left = bytes.size() - attribute_at;
    attribute.nla_len = 0;
    std::memcpy(bytes.data() + attribute_at, &attribute, sizeof attribute);
    CHECK(parse_error(bytes) ==
          "inet_diag attribute: length 0 does not fit the " + std::to_string(left) + " bytes left");
    attribute.nla_len = static_cast<std::uint16_t>(left + 4);
    std::memcpy(bytes.data() + attribute_at, &attribute, sizeof attribute);
    CHECK(parse_error(bytes) == "inet_diag attribute: length " + std::to_string(left + 4) + " does not fit the " +
                                    std::to_string(left) + " bytes left");
  }
  SUBCASE("a socket message too short for inet_diag_msg, or of another family, is an error") {
    CHECK(parse_error(DumpBuilder().message_of(SOCK_DIAG_BY_FAMILY, {1, 2, 3, 4}).bytes()) ==
          "inet_diag message: 4 bytes, shorter than inet_diag_msg");
    const auto unix_socket = DumpBuilder::bytes_of(inet_diag_msg{.idiag_family = AF_UNIX});
    CHECK(parse_error(DumpBuilder().message_of(SOCK_DIAG_BY_FAMILY, unix_socket).bytes()) ==
          "inet_diag message: address family 1 is neither IPv4 nor IPv6");
  }
}

TEST_CASE("read_tcp_sockets_netlink") {
  const auto deadline = Deadline::after(10s);

  SUBCASE("a listener and an accepted connection on loopback, through to TIME_WAIT") {
    Connection connection("127.0.0.1", "127.0.0.1");
    const int port = connection.port;
    const auto sockets = dump(port);
    CHECK(sockets.size() == 2); // the client's socket has another local port
    const auto listening = find_socket(sockets, [](const auto& socket) { return socket.state == k_listen; });
    REQUIRE(listening);
    CHECK(listening->local_address == "127.0.0.1");
    CHECK(listening->local_port == port);
    CHECK(listening->peer_address == "0.0.0.0");
    CHECK(listening->peer_port == 0);
    CHECK(listening->cookie);
    const auto accepted = find_socket(sockets, [](const auto& socket) { return socket.state == k_established; });
    REQUIRE(accepted);
    CHECK(accepted->local_address == "127.0.0.1");
    CHECK(accepted->local_port == port);
    CHECK(accepted->peer_address == "127.0.0.1");
    CHECK(accepted->peer_port == connection.client_port);
    REQUIRE(accepted->cookie);
    REQUIRE(accepted->bytes_received);

    // What arrives on the connection shows in its count; the cookie stays the same.
    const std::string request(1000, 'x');
    REQUIRE(::send(connection.client.get(), request.data(), request.size(), MSG_NOSIGNAL) == 1000);
    receive_exactly(connection.accepted.get(), request.size(), deadline);
    const auto after = find_socket(dump(port), [](const auto& socket) { return socket.state == k_established; });
    REQUIRE(after);
    CHECK(after->cookie == accepted->cookie);
    CHECK(after->bytes_received == *accepted->bytes_received + 1000);

    // The server closes first, so its end of the connection stays in TIME_WAIT.
    connection.accepted.close();
    wait_for_end_of_stream(connection.client.get(), deadline);
    connection.client.close();
    std::optional<TcpSocketReading> time_wait;
    while (!time_wait && !deadline.expired()) {
      time_wait = find_socket(dump(port), [&](const auto& socket) {
        return socket.state == k_time_wait && socket.peer_port == connection.client_port;
      });
    }
    REQUIRE(time_wait);
    CHECK(time_wait->local_address == "127.0.0.1");
    CHECK(time_wait->local_port == port);
    CHECK(time_wait->peer_address == "127.0.0.1");
    // The time-wait socket keeps the cookie of the connection it was, once a dump has seen that
    // connection: the kernel copies it over rather than making a new one.
    CHECK(time_wait->cookie == accepted->cookie);
    CHECK_FALSE(time_wait->bytes_received); // the kernel sends no tcp_info for a time-wait socket
  }
  SUBCASE("IPv6, and an IPv4 client of an IPv6 socket written as IPv4") {
    Connection ipv6("::1", "::1");
    const auto ipv6_accepted =
        find_socket(dump(ipv6.port), [](const auto& socket) { return socket.state == k_established; });
    REQUIRE(ipv6_accepted);
    CHECK(ipv6_accepted->local_address == "::1");
    CHECK(ipv6_accepted->peer_address == "::1");
    CHECK(ipv6_accepted->peer_port == ipv6.client_port);

    Connection mapped("::ffff:127.0.0.1", "127.0.0.1");
    const auto sockets = dump(mapped.port);
    const auto mapped_listener = find_socket(sockets, [](const auto& socket) { return socket.state == k_listen; });
    REQUIRE(mapped_listener);
    CHECK(mapped_listener->local_address == "127.0.0.1");
    const auto mapped_accepted =
        find_socket(sockets, [](const auto& socket) { return socket.state == k_established; });
    REQUIRE(mapped_accepted);
    CHECK(mapped_accepted->local_address == "127.0.0.1");
    CHECK(mapped_accepted->peer_address == "127.0.0.1");
    CHECK(mapped_accepted->peer_port == mapped.client_port);
  }
  SUBCASE("a port only bound, never listened on, gives no sockets") {
    const HeldPort held;
    CHECK(dump(held.port()).empty());
  }
}

TEST_CASE("read_tcp_sockets_proc") {
  Connection ipv4("127.0.0.1", "127.0.0.1");
  Connection mapped("::ffff:127.0.0.1", "127.0.0.1");
  Connection ipv6("::1", "::1");
  const auto read = lameduck::read_tcp_sockets_proc({ipv4.port, mapped.port, ipv6.port});
  REQUIRE_MESSAGE(read.has_value(), error_of(read));
  CHECK(read->size() == 6);
  for (const auto* connection : {&ipv4, &mapped, &ipv6}) {
    const std::string loopback = connection == &ipv6 ? "::1" : "127.0.0.1";
    const auto listening = find_socket(*read, [&](const auto& socket) {
      return socket.state == k_listen && socket.local_port == connection->port;
    });
    REQUIRE(listening);
    CHECK(listening->local_address == loopback);
    // An IPv6 listener's unset peer is "::", not a mapped address, even when it serves IPv4.
    CHECK(listening->peer_address == (connection == &ipv4 ? "0.0.0.0" : "::"));
    CHECK(listening->peer_port == 0);
    const auto accepted = find_socket(*read, [&](const auto& socket) {
      return socket.state == k_established && socket.local_port == connection->port;
    });
    REQUIRE(accepted);
    CHECK(accepted->local_address == loopback);
    CHECK(accepted->peer_address == loopback);
    CHECK(accepted->peer_port == connection->client_port);
    CHECK_FALSE(accepted->cookie);
    CHECK_FALSE(accepted->bytes_received);
  }
  const HeldPort held;
  CHECK(lameduck::read_tcp_sockets_proc({held.port()})->empty());
}
