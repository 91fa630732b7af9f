#pragma once

// Where the real Kubernetes clients are: kubectl from PATH, else the one ./dev installs into
// .deps/; helm as tests/helm/setup.sh installs it.

#include <string>

namespace lameduck::test {

std::string find_kubectl();
std::string find_helm();

} // namespace lameduck::test
