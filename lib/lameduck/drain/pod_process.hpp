#pragma once

// The pod's other processes, as /proc shows them: found by name or by pid file, whether they
// still run, and the TCP sockets they hold. Another container's processes are only visible
// when the pod shares its process namespace (`shareProcessNamespace: true`); the sockets are
// those of the pod's one network namespace.

#include "lameduck/core/expected.hpp"

#include <cstdint>
#include <string>
#include <sys/types.h>
#include <vector>

namespace lameduck {

// Every running process whose comm (the kernel's 15-character name) or whose argv[0]'s base
// name is `name`, this process excluded, lowest pid first.
std::vector<pid_t> find_processes_by_name(const std::string& name);

// The pid a pid file holds (decimal, blanks around it allowed), or why there is none.
Expected<pid_t> read_pid_file(const std::string& path);

// Still running: /proc/PID exists and is not a zombie (a parent that has not reaped it yet
// leaves one behind, holding nothing).
bool process_running(pid_t pid);

// The processes among `pids` whose parent is not among them: the master of a master and its
// workers, which is the one a signal for the whole server goes to.
std::vector<pid_t> topmost(const std::vector<pid_t>& pids);

// `pids` with every running descendant of theirs, each once.
std::vector<pid_t> with_descendants(const std::vector<pid_t>& pids);

// The inodes of the sockets the processes hold open (/proc/PID/fd links "socket:[N]"), each
// once. A process that cannot be read (gone, or another user's without the capability) adds
// none.
std::vector<std::uint64_t> socket_inodes(const std::vector<pid_t>& pids);

struct ProcessSockets {
  int listening = 0;   // TCP sockets in LISTEN
  int connections = 0; // TCP connections not yet closed (TIME_WAIT and CLOSE left out)
};

// How many of the TCP sockets in /proc/net/tcp{,6} are among `inodes`, by state.
Expected<ProcessSockets> count_process_sockets(const std::vector<std::uint64_t>& inodes);

} // namespace lameduck
