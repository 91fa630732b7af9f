#include "support/network_namespace.hpp"

#include "support/process.hpp"

#include <atomic>
#include <stdexcept>
#include <unistd.h>

namespace lameduck::test {

namespace {

void ip(const std::vector<std::string>& arguments) {
  std::vector<std::string> argv{"/usr/sbin/ip"};
  argv.insert(argv.end(), arguments.begin(), arguments.end());
  const auto result = run_process(argv);
  if (result.exit_code != 0) {
    std::string command;
    for (const auto& argument : argv) {
      command += argument + " ";
    }
    throw std::runtime_error("cannot make a network namespace: " + command + "said: " + result.stderr_text);
  }
}

} // namespace

NetworkNamespace::NetworkNamespace() {
  // Unique per process and instance, so that tests running side by side never share a name or
  // a subnet. The subnets are /30s of TEST-NET-1 (192.0.2.0/24, RFC 5737), which no real host
  // uses.
  static std::atomic<int> made{0};
  const int n = (static_cast<int>(::getpid()) * 7 + made++) % 64;
  const std::string id = std::to_string(::getpid()) + "-" + std::to_string(n);
  m_name = "lameduck-" + id;
  m_outside = "192.0.2." + std::to_string(4 * n + 1);
  m_inside = "192.0.2." + std::to_string(4 * n + 2);
  const std::string outside_link = "ldo" + std::to_string(n) + "-" + std::to_string(::getpid() % 100000);
  const std::string inside_link = "ldi" + std::to_string(n) + "-" + std::to_string(::getpid() % 100000);
  ip({"netns", "add", m_name});
  try {
    ip({"link", "add", outside_link, "type", "veth", "peer", "name", inside_link});
    ip({"link", "set", inside_link, "netns", m_name});
    ip({"addr", "add", m_outside + "/30", "dev", outside_link});
    ip({"link", "set", outside_link, "up"});
    ip({"-n", m_name, "addr", "add", m_inside + "/30", "dev", inside_link});
    ip({"-n", m_name, "link", "set", inside_link, "up"});
    ip({"-n", m_name, "link", "set", "lo", "up"});
  } catch (...) {
    run_process({"/usr/sbin/ip", "netns", "del", m_name});
    run_process({"/usr/sbin/ip", "link", "del", outside_link});
    throw;
  }
}

NetworkNamespace::~NetworkNamespace() {
  // The veth pair goes with the namespace that holds one end of it.
  run_process({"/usr/sbin/ip", "netns", "del", m_name});
}

std::vector<std::string> NetworkNamespace::command(const std::vector<std::string>& argv) const {
  std::vector<std::string> full{"/usr/sbin/ip", "netns", "exec", m_name};
  full.insert(full.end(), argv.begin(), argv.end());
  return full;
}

} // namespace lameduck::test
