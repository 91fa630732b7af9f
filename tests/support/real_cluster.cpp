#include "support/real_cluster.hpp"

#include "support/kube_tools.hpp"

#include <doctest/doctest.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <unistd.h>

namespace lameduck::test {

namespace {

using namespace std::chrono_literals;

const std::string k_cluster_script = std::string(LAMEDUCK_TESTS_DIR) + "/cluster/cluster.sh";

std::map<std::string, std::string> read_env_file(const std::filesystem::path& path) {
  std::map<std::string, std::string> values;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    const auto equals = line.find('=');
    if (equals != std::string::npos) {
      values[line.substr(0, equals)] = line.substr(equals + 1);
    }
  }
  return values;
}

} // namespace

RealCluster::RealCluster() {
  std::string pattern = (std::filesystem::temp_directory_path() / "lameduck-cluster-XXXXXX").string();
  m_dir = ::mkdtemp(pattern.data());
  // Cold, the servers are built first (minutes); ./dev test builds them before ctest runs.
  const auto up = run_process({"/bin/bash", k_cluster_script, "up", m_dir.string(), "--tools", LAMEDUCK_TOOLS_DIR,
                               "--owner", std::to_string(::getpid())},
                              {}, 30min);
  if (up.exit_code != 0) {
    throw std::runtime_error("the cluster did not come up: " + up.stderr_text);
  }
  const auto values = read_env_file(m_dir / "env");
  m_env = {values.at("KUBECTL"),       values.at("API_URL"),   values.at("API_HOST"),
           values.at("CA_FILE"),       values.at("KUBECONFIG"), values.at("NODE_NAME"),
           values.at("POD_NETWORK"),   values.at("KUBE_PROXY_TOKEN_FILE"), values.at("ADMIN_TOKEN_FILE"),
           values.at("AUDIT_LOG"),     values.at("ETCD_URL"),  values.at("SERVICE_RANGE"),
           values.at("NODE_LOG")};
}

RealCluster::~RealCluster() {
  run_process({"/bin/bash", k_cluster_script, "down", m_dir.string()}, {}, 2min);
  if (std::getenv("LAMEDUCK_KEEP_CLUSTER") == nullptr) {
    std::error_code ignored;
    std::filesystem::remove_all(m_dir, ignored);
  }
}

KubeConfig RealCluster::admin_config() const {
  return {parse_url(m_env.api_url).value(), m_env.admin_token_file, m_env.ca_file};
}

Finished RealCluster::kubectl(std::vector<std::string> arguments, std::string stdin_text, Duration limit) const {
  arguments.insert(arguments.begin(), m_env.kubectl);
  return run_process(std::move(arguments),
                     {.environment = {{"KUBECONFIG", m_env.kubeconfig}}, .working_directory = {},
                      .stdin_text = std::move(stdin_text)},
                     limit);
}

Finished RealCluster::helm(std::vector<std::string> arguments, Duration limit) const {
  arguments.insert(arguments.begin(), find_helm());
  // helm keeps its caches and settings under HOME; the cluster's directory keeps them apart.
  return run_process(std::move(arguments),
                     {.environment = {{"KUBECONFIG", m_env.kubeconfig},
                                      {"HELM_CACHE_HOME", (m_dir / "helm" / "cache").string()},
                                      {"HELM_CONFIG_HOME", (m_dir / "helm" / "config").string()},
                                      {"HELM_DATA_HOME", (m_dir / "helm" / "data").string()}},
                      .working_directory = {},
                      .stdin_text = {}},
                     limit);
}

void RealCluster::create_restricted_namespace(const std::string& name) const {
  const auto made = kubectl({"apply", "-f", "-"}, nlohmann::json{
      {"apiVersion", "v1"}, {"kind", "Namespace"},
      {"metadata", {{"name", name}, {"labels", {{"pod-security.kubernetes.io/enforce", "restricted"},
                                                {"pod-security.kubernetes.io/enforce-version", "latest"}}}}}}.dump());
  if (made.exit_code != 0) {
    throw std::runtime_error("cannot create namespace " + name + ": " + made.stderr_text);
  }
}

RealCluster& shared_cluster() {
  static RealCluster cluster;
  return cluster;
}

} // namespace lameduck::test
