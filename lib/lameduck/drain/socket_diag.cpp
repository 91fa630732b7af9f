#include "lameduck/drain/socket_diag.hpp"

#include "lameduck/core/durable_file.hpp"
#include "lameduck/core/fd_wait.hpp"
#include "lameduck/drain/tcp_connections.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstddef>
#include <cstring>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

namespace lameduck {

namespace {

// Large enough for any one dump message: the kernel fills a dump's receive buffer up to 32 KiB.
constexpr std::size_t k_receive_buffer_bytes = std::size_t{64} << 10;
constexpr std::size_t k_bytes_received_offset = offsetof(tcp_info, tcpi_bytes_received);
// include/net/tcp_states.h, Linux 6.6 and later: sockets bound to a port but neither listening
// nor connected, which the kernel reports as CLOSE. The bit means nothing to older kernels.
constexpr unsigned k_tcp_bound_inactive = 13;

// Netlink messages and their attributes start on 4-byte boundaries.
std::size_t align4(std::size_t length) {
  return (length + 3) & ~std::size_t{3};
}

// The buffer is not aligned for T, so each header is copied out, and only after its size was
// checked.
template <typename T> T copy_out(std::span<const std::uint8_t> bytes) {
  T value;
  std::memcpy(&value, bytes.data(), sizeof value);
  return value;
}

// Netlink reports errors as negative errno values.
std::string errno_text(int code) {
  const long long number = code < 0 ? -static_cast<long long>(code) : code;
  return number > INT_MAX ? "error " + std::to_string(code) : std::strerror(static_cast<int>(number));
}

std::string address_text(std::uint8_t family, const __be32 (&address)[4]) {
  const auto* bytes = reinterpret_cast<const std::uint8_t*>(address);
  return ip_address_text(std::span<const std::uint8_t>(bytes, family == AF_INET ? 4 : 16));
}

// The tcp_info of an INET_DIAG_INFO attribute, among the attributes that follow inet_diag_msg.
Expected<std::optional<std::uint64_t>> bytes_received_of(std::span<const std::uint8_t> attributes) {
  std::optional<std::uint64_t> bytes_received;
  while (!attributes.empty()) {
    if (attributes.size() < sizeof(nlattr)) {
      return unexpected("inet_diag attribute: " + std::to_string(attributes.size()) + " bytes, too short for a header");
    }
    const auto attribute = copy_out<nlattr>(attributes);
    // A length below the header's would never advance: refuse it rather than loop on it.
    if (attribute.nla_len < sizeof(nlattr) || attribute.nla_len > attributes.size()) {
      return unexpected("inet_diag attribute: length " + std::to_string(attribute.nla_len) + " does not fit the " +
                        std::to_string(attributes.size()) + " bytes left");
    }
    const auto value = attributes.subspan(sizeof(nlattr), attribute.nla_len - sizeof(nlattr));
    // Older kernels send a shorter tcp_info: without the field, there is no count to report.
    if ((attribute.nla_type & NLA_TYPE_MASK) == INET_DIAG_INFO &&
        value.size() >= k_bytes_received_offset + sizeof(std::uint64_t)) {
      bytes_received = copy_out<std::uint64_t>(value.subspan(k_bytes_received_offset));
    }
    attributes = attributes.subspan(std::min(align4(attribute.nla_len), attributes.size()));
  }
  return bytes_received;
}

Expected<TcpSocketReading> parse_socket(std::span<const std::uint8_t> payload) {
  if (payload.size() < sizeof(inet_diag_msg)) {
    return unexpected("inet_diag message: " + std::to_string(payload.size()) + " bytes, shorter than inet_diag_msg");
  }
  const auto message = copy_out<inet_diag_msg>(payload);
  if (message.idiag_family != AF_INET && message.idiag_family != AF_INET6) {
    return unexpected("inet_diag message: address family " + std::to_string(message.idiag_family) +
                      " is neither IPv4 nor IPv6");
  }
  const auto bytes_received =
      bytes_received_of(payload.subspan(std::min(align4(sizeof(inet_diag_msg)), payload.size())));
  if (!bytes_received) {
    return unexpected(bytes_received.error());
  }
  TcpSocketReading reading;
  reading.cookie = message.id.idiag_cookie[0] | std::uint64_t{message.id.idiag_cookie[1]} << 32;
  reading.local_address = address_text(message.idiag_family, message.id.idiag_src);
  reading.local_port = ntohs(message.id.idiag_sport);
  reading.peer_address = address_text(message.idiag_family, message.id.idiag_dst);
  reading.peer_port = ntohs(message.id.idiag_dport);
  reading.state = message.idiag_state;
  reading.bytes_received = *bytes_received;
  return reading;
}

bool wanted(const TcpSocketReading& socket, const std::vector<int>& ports) {
  return std::find(ports.begin(), ports.end(), socket.local_port) != ports.end();
}

class NetlinkSocket {
public:
  NetlinkSocket() : m_fd(::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG)) {}
  ~NetlinkSocket() {
    if (m_fd >= 0) {
      ::close(m_fd);
    }
  }
  NetlinkSocket(const NetlinkSocket&) = delete;
  NetlinkSocket& operator=(const NetlinkSocket&) = delete;

  int fd() const { return m_fd; }

private:
  int m_fd;
};

Expected<Done> request_dump(int fd, std::uint8_t family, std::uint32_t sequence) {
  struct {
    nlmsghdr header;
    inet_diag_req_v2 body;
  } request{};
  request.header.nlmsg_len = sizeof request;
  request.header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  request.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  request.header.nlmsg_seq = sequence;
  request.body.sdiag_family = family;
  request.body.sdiag_protocol = IPPROTO_TCP;
  // Every state of a connection: TIME_WAIT is how a short connection that the server closed is
  // still seen, NEW_SYN_RECV how one still in its handshake is. Not bound-only sockets: they
  // are no connection, and would show as CLOSE on the port they hold.
  request.body.idiag_states = ~(1U << k_tcp_bound_inactive);
  request.body.idiag_ext = 1U << (INET_DIAG_INFO - 1);

  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  for (;;) {
    const ssize_t sent = ::sendto(fd, &request, sizeof request, 0, reinterpret_cast<const sockaddr*>(&kernel),
                                  sizeof kernel);
    if (sent == static_cast<ssize_t>(sizeof request)) {
      return Done{};
    }
    if (sent < 0 && errno == EINTR) {
      continue;
    }
    return unexpected(std::string("netlink send: ") + (sent < 0 ? std::strerror(errno) : "short write"));
  }
}

// Waits for the next part of the dump; false once the deadline has passed without one.
Expected<bool> wait_readable(int fd, const Deadline& deadline) {
  auto readable = wait_for_fd(fd, POLLIN, deadline);
  if (!readable) {
    return unexpected("netlink " + readable.error().message);
  }
  return readable;
}

Expected<Done> dump_family(int fd, std::uint8_t family, std::uint32_t sequence, const std::vector<int>& ports,
                           const Deadline& deadline, std::vector<TcpSocketReading>& sockets) {
  if (auto sent = request_dump(fd, family, sequence); !sent) {
    return sent;
  }
  std::vector<std::uint8_t> buffer(k_receive_buffer_bytes);
  for (;;) {
    const auto readable = wait_readable(fd, deadline);
    if (!readable) {
      return unexpected(readable.error());
    }
    if (!*readable) {
      return unexpected(std::string("netlink dump: not finished by the deadline"));
    }
    iovec part{.iov_base = buffer.data(), .iov_len = buffer.size()};
    msghdr message{};
    message.msg_iov = &part;
    message.msg_iovlen = 1;
    const ssize_t received = ::recvmsg(fd, &message, MSG_DONTWAIT);
    if (received < 0) {
      if (errno == EINTR || errno == EAGAIN) {
        continue;
      }
      return unexpected(std::string("netlink receive: ") + std::strerror(errno));
    }
    if ((message.msg_flags & MSG_TRUNC) != 0) {
      return unexpected("netlink receive: a message larger than " + std::to_string(buffer.size()) +
                        " bytes was cut short");
    }
    auto batch =
        parse_sock_diag_messages(std::span<const std::uint8_t>(buffer.data(), static_cast<std::size_t>(received)));
    if (!batch) {
      return unexpected(batch.error());
    }
    for (auto& socket : batch->sockets) {
      if (wanted(socket, ports)) {
        sockets.push_back(std::move(socket));
      }
    }
    if (batch->done) {
      return Done{};
    }
  }
}

} // namespace

Expected<SockDiagBatch> parse_sock_diag_messages(std::span<const std::uint8_t> buffer) {
  SockDiagBatch batch;
  while (!buffer.empty()) {
    if (buffer.size() < sizeof(nlmsghdr)) {
      return unexpected("netlink message: " + std::to_string(buffer.size()) + " bytes, too short for a header");
    }
    const auto header = copy_out<nlmsghdr>(buffer);
    if (header.nlmsg_len < sizeof(nlmsghdr) || header.nlmsg_len > buffer.size()) {
      return unexpected("netlink message: length " + std::to_string(header.nlmsg_len) + " does not fit the " +
                        std::to_string(buffer.size()) + " bytes left");
    }
    const auto payload = buffer.subspan(sizeof(nlmsghdr), header.nlmsg_len - sizeof(nlmsghdr));
    buffer = buffer.subspan(std::min(align4(header.nlmsg_len), buffer.size()));

    switch (header.nlmsg_type) {
    case NLMSG_DONE:
      // A dump that failed part-way ends with a negative errno here.
      if (payload.size() >= sizeof(int) && copy_out<int>(payload) < 0) {
        return unexpected("netlink dump: " + errno_text(copy_out<int>(payload)));
      }
      batch.done = true;
      return batch;
    case NLMSG_ERROR: {
      if (payload.size() < sizeof(int)) {
        return unexpected(std::string("netlink error: the message is too short for its code"));
      }
      const int code = copy_out<int>(payload);
      if (code == 0) {
        continue; // an acknowledgement, not an error
      }
      return unexpected("netlink error: " + errno_text(code));
    }
    case NLMSG_OVERRUN:
      return unexpected(std::string("netlink: the kernel dropped part of the dump (overrun)"));
    case SOCK_DIAG_BY_FAMILY: {
      auto socket = parse_socket(payload);
      if (!socket) {
        return unexpected(socket.error());
      }
      batch.sockets.push_back(std::move(*socket));
      continue;
    }
    default:
      continue; // NLMSG_NOOP, or a type a later kernel adds
    }
  }
  return batch;
}

Expected<std::vector<TcpSocketReading>> read_tcp_sockets_netlink(const std::vector<int>& ports,
                                                                 const Deadline& deadline) {
  const NetlinkSocket netlink;
  if (netlink.fd() < 0) {
    return unexpected(std::string("netlink socket: ") + std::strerror(errno));
  }
  std::vector<TcpSocketReading> sockets;
  std::uint32_t sequence = 1;
  for (const std::uint8_t family : {std::uint8_t{AF_INET}, std::uint8_t{AF_INET6}}) {
    if (auto dumped = dump_family(netlink.fd(), family, sequence++, ports, deadline, sockets); !dumped) {
      return unexpected(dumped.error());
    }
  }
  return sockets;
}

Expected<std::vector<TcpSocketReading>> read_tcp_sockets_proc(const std::vector<int>& ports) {
  std::vector<TcpSocketReading> sockets;
  for (const char* path : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    const auto table = read_small_file(path, std::size_t{64} << 20);
    if (!table) {
      return unexpected(table.error());
    }
    if (table->missing) {
      continue; // no IPv6 in this kernel
    }
    for (auto& entry : parse_proc_net_tcp(table->content)) {
      TcpSocketReading reading;
      reading.local_address = std::move(entry.local_address);
      reading.local_port = entry.local_port;
      reading.peer_address = std::move(entry.remote_address);
      reading.peer_port = entry.remote_port;
      reading.state = entry.state;
      if (wanted(reading, ports)) {
        sockets.push_back(std::move(reading));
      }
    }
  }
  return sockets;
}

} // namespace lameduck
