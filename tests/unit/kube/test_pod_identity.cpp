#include "lameduck/kube/pod_identity.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <unistd.h>

using lameduck::fixed_environment;
using lameduck::PodIdentityFlags;
using lameduck::resolve_pod_identity;

namespace {

struct TempDir {
  TempDir() : path(std::filesystem::temp_directory_path() / ("lameduck-test-" + std::to_string(::getpid()))) {
    std::filesystem::create_directories(path);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  std::filesystem::path path;
};

const auto k_downward_api = fixed_environment({
    {"POD_NAME", "ledger-agent-5c9b7d8f6-qwz4t"},
    {"POD_NAMESPACE", "payments"},
    {"POD_UID", "e2b8c1f4-7a3d-4d6b-9c0e-5f1a2b3c4d5e"},
    {"POD_IP", "10.0.3.52"},
    {"POD_IPS", "10.0.3.52,fd00:10:0:3::52"},
});

} // namespace

TEST_CASE("resolve_pod_identity") {
  TempDir service_account;

  SUBCASE("from the downward API environment") {
    const auto pod = resolve_pod_identity({}, k_downward_api, service_account.path);
    CHECK(pod.name == "ledger-agent-5c9b7d8f6-qwz4t");
    CHECK(pod.namespace_name == "payments");
    CHECK(pod.uid == "e2b8c1f4-7a3d-4d6b-9c0e-5f1a2b3c4d5e");
    CHECK(pod.ips == std::vector<std::string>{"10.0.3.52", "fd00:10:0:3::52"});
  }
  SUBCASE("flags win over the environment") {
    const PodIdentityFlags flags{"other", "staging", "uid-2", "10.9.9.9"};
    const auto pod = resolve_pod_identity(flags, k_downward_api, service_account.path);
    CHECK(pod.name == "other");
    CHECK(pod.namespace_name == "staging");
    CHECK(pod.uid == "uid-2");
    CHECK(pod.ips == std::vector<std::string>{"10.9.9.9"});
  }
  SUBCASE("the namespace falls back to the service account's file") {
    std::ofstream(service_account.path / "namespace") << "payments\n";
    const auto pod = resolve_pod_identity({}, fixed_environment({}), service_account.path);
    CHECK(pod.namespace_name == "payments");
    CHECK(pod.name.empty());
    CHECK(pod.ips.empty());
  }
  SUBCASE("POD_IPS alone, with spaces and repeats") {
    const auto pod =
        resolve_pod_identity({}, fixed_environment({{"POD_IPS", " fd00::52 , 10.0.3.52,fd00::52,"}}), service_account.path);
    CHECK(pod.ips == std::vector<std::string>{"fd00::52", "10.0.3.52"});
  }
}
