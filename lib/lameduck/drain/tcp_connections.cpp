#include "lameduck/drain/tcp_connections.hpp"

#include "lameduck/core/durable_file.hpp"

#include <algorithm>
#include <charconv>

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

} // namespace

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
    const auto colon = local.rfind(':');
    TcpSocketEntry entry;
    if (colon == std::string_view::npos || !parse_hex(local.substr(colon + 1), entry.local_port) ||
        !parse_hex(state, entry.state)) {
      continue;
    }
    entries.push_back(entry);
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
