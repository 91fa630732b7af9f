#include "lameduck/drain/tcp_connections.hpp"

#include "lameduck/core/durable_file.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <array>
#include <charconv>
#include <cstring>
#include <netinet/in.h>

namespace lameduck {

namespace {

std::string_view next_field(std::string_view& line) {
  const auto start = line.find_first_not_of(" \t");
  if (start == std::string_view::npos) {
    line = {};
    return {};
  }
  line.remove_prefix(start);
  const auto end = std::min(line.find_first_of(" \t"), line.size());
  const std::string_view field = line.substr(0, end);
  line.remove_prefix(end);
  return field;
}

// Unsigned: from_chars would take "-1" for a signed type.
bool parse_hex(std::string_view text, int& value) {
  unsigned parsed = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), parsed, 16);
  if (error != std::errc{} || end != text.data() + text.size() || parsed > 0xffff) {
    return false;
  }
  value = static_cast<int>(parsed);
  return true;
}

// "0100007F" (IPv4) or four such words (IPv6): each word is a 32-bit value in network byte
// order that the kernel printed as a number, so storing the number back in this machine's
// byte order gives the address's bytes.
std::string parse_hex_address(std::string_view text) {
  constexpr std::size_t k_word_digits = 8;
  if (text.size() != k_word_digits && text.size() != 4 * k_word_digits) {
    return {};
  }
  std::array<std::uint8_t, 16> bytes{};
  for (std::size_t word = 0; word * k_word_digits < text.size(); ++word) {
    const std::string_view digits = text.substr(word * k_word_digits, k_word_digits);
    std::uint32_t value = 0;
    const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), value, 16);
    if (error != std::errc{} || end != digits.data() + digits.size()) {
      return {};
    }
    std::memcpy(bytes.data() + word * sizeof value, &value, sizeof value);
  }
  return ip_address_text(std::span<const std::uint8_t>(bytes.data(), text.size() / 2));
}

// "0100007F:1F2B" into its address and port; false when either does not parse.
bool parse_endpoint(std::string_view text, std::string& address, int& port) {
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos || !parse_hex(text.substr(colon + 1), port)) {
    return false;
  }
  address = parse_hex_address(text.substr(0, colon));
  return !address.empty();
}

} // namespace

std::string ip_address_text(std::span<const std::uint8_t> address) {
  char text[INET6_ADDRSTRLEN] = {};
  if (address.size() == sizeof(in_addr)) {
    return ::inet_ntop(AF_INET, address.data(), text, sizeof text) != nullptr ? text : "";
  }
  if (address.size() != sizeof(in6_addr)) {
    return {};
  }
  in6_addr ipv6{};
  std::memcpy(&ipv6, address.data(), sizeof ipv6);
  if (IN6_IS_ADDR_V4MAPPED(&ipv6)) {
    return ip_address_text(address.subspan(12));
  }
  return ::inet_ntop(AF_INET6, &ipv6, text, sizeof text) != nullptr ? text : "";
}

std::vector<TcpSocketEntry> parse_proc_net_tcp(std::string_view table) {
  std::vector<TcpSocketEntry> entries;
  while (!table.empty()) {
    const auto end = std::min(table.find('\n'), table.size());
    std::string_view line = table.substr(0, end);
    table.remove_prefix(std::min(end + 1, table.size()));

    const std::string_view slot = next_field(line);    // "0:"
    const std::string_view local = next_field(line);   // "0100007F:1F2B" or 32 hex digits + port
    const std::string_view remote = next_field(line);  // same form
    const std::string_view state = next_field(line);   // "0A"
    if (slot.empty() || slot.back() != ':' || remote.empty()) {
      continue; // the header, or a torn line
    }
    TcpSocketEntry entry;
    if (!parse_endpoint(local, entry.local_address, entry.local_port) ||
        !parse_endpoint(remote, entry.remote_address, entry.remote_port) || !parse_hex(state, entry.state)) {
      continue;
    }
    // tx_queue:rx_queue, tr:tm->when, retrnsmt, uid, timeout, then the inode.
    for (int skipped = 0; skipped < 5 && !line.empty(); ++skipped) {
      next_field(line);
    }
    const std::string_view inode = next_field(line);
    if (std::from_chars(inode.data(), inode.data() + inode.size(), entry.inode).ec != std::errc{}) {
      entry.inode = 0;
    }
    entries.push_back(std::move(entry));
  }
  return entries;
}

Expected<int> count_established_connections(const std::vector<int>& ports) {
  int count = 0;
  for (const char* path : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    const auto table = read_small_file(path, std::size_t{64} << 20);
    if (!table) {
      return unexpected(table.error());
    }
    if (table->missing) {
      continue; // no IPv6 in this kernel
    }
    for (const auto& entry : parse_proc_net_tcp(table->content)) {
      if (entry.state == k_tcp_established &&
          std::find(ports.begin(), ports.end(), entry.local_port) != ports.end()) {
        ++count;
      }
    }
  }
  return count;
}

} // namespace lameduck
