#pragma once

// A network namespace of the test's own, joined to this one by a veth pair: a host that is not
// on loopback, whatever interfaces the machine has (CI machines often have none but loopback),
// and that no traffic leaves. Needs root, as the tests' CI has. Removed, with its veth pair,
// when the test ends.

#include <string>
#include <vector>

namespace lameduck::test {

class NetworkNamespace {
public:
  // Throws, with what `ip` said, when the namespace cannot be made.
  NetworkNamespace();
  ~NetworkNamespace();
  NetworkNamespace(const NetworkNamespace&) = delete;
  NetworkNamespace& operator=(const NetworkNamespace&) = delete;

  const std::string& name() const { return m_name; }
  // This side of the veth pair, and the other side, inside the namespace.
  const std::string& outside_address() const { return m_outside; }
  const std::string& inside_address() const { return m_inside; }
  // `argv` run inside the namespace.
  std::vector<std::string> command(const std::vector<std::string>& argv) const;

private:
  std::string m_name;
  std::string m_outside;
  std::string m_inside;
};

} // namespace lameduck::test
