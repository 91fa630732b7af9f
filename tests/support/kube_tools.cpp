#include "support/kube_tools.hpp"

#include <cstdlib>
#include <filesystem>

namespace lameduck::test {

namespace {

std::string on_path(const std::string& name) {
  const std::string path = std::getenv("PATH") != nullptr ? std::getenv("PATH") : "";
  std::size_t start = 0;
  while (!path.empty() && start <= path.size()) {
    const auto end = std::min(path.find(':', start), path.size());
    const auto candidate = std::filesystem::path(path.substr(start, end - start)) / name;
    if (std::filesystem::exists(candidate)) {
      return candidate.string();
    }
    start = end + 1;
  }
  return {};
}

} // namespace

std::string find_kubectl() {
  const auto found = on_path("kubectl");
  return found.empty() ? std::string(LAMEDUCK_TESTS_DIR) + "/../.deps/kubectl/kubectl" : found;
}

std::string find_helm() {
  // The version tests/helm/setup.sh pins; the charts are tested against no other.
  return std::string(LAMEDUCK_TESTS_DIR) + "/../.deps/helm-v4.1.4/helm";
}

} // namespace lameduck::test
