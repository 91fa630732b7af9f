#include "lameduck/drain/pod_process.hpp"

#include "lameduck/core/durable_file.hpp"
#include "lameduck/core/text.hpp"
#include "lameduck/drain/tcp_connections.hpp"

#include <algorithm>
#include <charconv>
#include <climits>
#include <filesystem>
#include <optional>
#include <unistd.h>

namespace lameduck {

namespace {

constexpr int k_tcp_listen = 0x0a;    // include/net/tcp_states.h
constexpr int k_tcp_time_wait = 0x06;
constexpr int k_tcp_close = 0x07;

std::optional<pid_t> parse_pid(std::string_view text) {
  pid_t pid = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), pid);
  if (text.empty() || error != std::errc{} || end != text.data() + text.size() || pid <= 0) {
    return std::nullopt;
  }
  return pid;
}

std::vector<pid_t> all_pids() {
  std::vector<pid_t> pids;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", error)) {
    if (const auto pid = parse_pid(entry.path().filename().string())) {
      pids.push_back(*pid);
    }
  }
  std::sort(pids.begin(), pids.end());
  return pids;
}

std::string proc_file(pid_t pid, const char* name) {
  const auto read = read_small_file("/proc/" + std::to_string(pid) + "/" + name, 64 * 1024);
  return read && !read->missing ? read->content : std::string{};
}

// State and parent from /proc/PID/stat: "pid (comm) S ppid ..."; comm may hold spaces and
// parentheses, so the fields are counted from its last ')'.
struct StatLine {
  char state = 0;
  pid_t parent = 0;
};

std::optional<StatLine> read_stat(pid_t pid) {
  const std::string stat = proc_file(pid, "stat");
  const auto close = stat.rfind(')');
  if (close == std::string::npos || close + 4 > stat.size()) {
    return std::nullopt;
  }
  StatLine line;
  line.state = stat[close + 2];
  const std::string_view rest = std::string_view(stat).substr(close + 4);
  const auto parent = parse_pid(rest.substr(0, rest.find(' ')));
  line.parent = parent.value_or(0);
  return line;
}

} // namespace

std::vector<pid_t> find_processes_by_name(const std::string& name) {
  std::vector<pid_t> found;
  const pid_t self = ::getpid();
  for (const pid_t pid : all_pids()) {
    if (pid == self || !process_running(pid)) {
      continue;
    }
    const std::string comm = trim_blanks(proc_file(pid, "comm"));
    const std::string cmdline = proc_file(pid, "cmdline");
    const std::string argv0 = cmdline.substr(0, cmdline.find('\0'));
    // argv[0] as the process may have rewritten it ("nginx: master process ..."): its first word.
    const std::string first_word = argv0.substr(0, argv0.find_first_of(" :"));
    const std::string base = first_word.substr(first_word.rfind('/') + 1);
    if (comm == name || base == name) {
      found.push_back(pid);
    }
  }
  return found;
}

Expected<pid_t> read_pid_file(const std::string& path) {
  const auto read = read_small_file(path, 1024);
  if (!read) {
    return unexpected(read.error());
  }
  if (read->missing) {
    return unexpected("no pid file " + path);
  }
  const auto pid = parse_pid(trim_blanks(read->content));
  if (!pid) {
    return unexpected(path + " holds no pid");
  }
  return *pid;
}

bool process_running(pid_t pid) {
  const auto stat = read_stat(pid);
  return stat && stat->state != 'Z' && stat->state != 'X' && stat->state != 'x';
}

std::vector<pid_t> topmost(const std::vector<pid_t>& pids) {
  std::vector<pid_t> out;
  for (const pid_t pid : pids) {
    const auto stat = read_stat(pid);
    if (!stat || std::find(pids.begin(), pids.end(), stat->parent) == pids.end()) {
      out.push_back(pid);
    }
  }
  return out;
}

std::vector<pid_t> with_descendants(const std::vector<pid_t>& pids) {
  std::vector<pid_t> out;
  for (const pid_t pid : pids) {
    if (process_running(pid)) {
      out.push_back(pid);
    }
  }
  std::vector<std::pair<pid_t, pid_t>> parents; // (pid, parent) of every running process
  for (const pid_t pid : all_pids()) {
    if (const auto stat = read_stat(pid); stat && stat->state != 'Z') {
      parents.emplace_back(pid, stat->parent);
    }
  }
  // Generation by generation, until one adds nobody.
  for (bool added = true; added;) {
    added = false;
    for (const auto& [pid, parent] : parents) {
      if (std::find(out.begin(), out.end(), parent) != out.end() && std::find(out.begin(), out.end(), pid) == out.end()) {
        out.push_back(pid);
        added = true;
      }
    }
  }
  return out;
}

std::vector<std::uint64_t> socket_inodes(const std::vector<pid_t>& pids) {
  std::vector<std::uint64_t> inodes;
  for (const pid_t pid : pids) {
    std::error_code error;
    for (const auto& entry : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", error)) {
      char target[PATH_MAX];
      const ssize_t length = ::readlink(entry.path().c_str(), target, sizeof target - 1);
      if (length <= 0) {
        continue;
      }
      const std::string_view link(target, static_cast<std::size_t>(length));
      constexpr std::string_view k_prefix = "socket:[";
      if (!link.starts_with(k_prefix) || link.back() != ']') {
        continue;
      }
      const std::string_view digits = link.substr(k_prefix.size(), link.size() - k_prefix.size() - 1);
      std::uint64_t inode = 0;
      if (std::from_chars(digits.data(), digits.data() + digits.size(), inode).ec == std::errc{} &&
          std::find(inodes.begin(), inodes.end(), inode) == inodes.end()) {
        inodes.push_back(inode);
      }
    }
  }
  return inodes;
}

Expected<ProcessSockets> count_process_sockets(const std::vector<std::uint64_t>& inodes) {
  ProcessSockets counts;
  for (const char* path : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    const auto table = read_small_file(path, std::size_t{64} << 20);
    if (!table) {
      return unexpected(table.error());
    }
    if (table->missing) {
      continue; // no IPv6 in this kernel
    }
    for (const auto& entry : parse_proc_net_tcp(table->content)) {
      if (entry.inode == 0 || std::find(inodes.begin(), inodes.end(), entry.inode) == inodes.end()) {
        continue;
      }
      if (entry.state == k_tcp_listen) {
        ++counts.listening;
      } else if (entry.state != k_tcp_time_wait && entry.state != k_tcp_close) {
        ++counts.connections;
      }
    }
  }
  return counts;
}

} // namespace lameduck
