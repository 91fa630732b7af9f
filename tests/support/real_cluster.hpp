#pragma once

// A real Kubernetes control plane for the tests (tests/cluster/cluster.sh: etcd,
// kube-apiserver, kube-controller-manager, kube-scheduler at the release tests/cluster/go.mod
// pins) with a real node: containerd, the kubelet and kube-proxy of the same release
// (tests/cluster/node.sh). Its images are made from the built binaries:
//   lameduck:dev             the toolkit image (/lameduck/bin/{prestop,readyz-toggle,drain-wait})
//   lameduck-demo-agent:dev  the demo agent (/usr/local/bin/demo-agent)
// Everything goes down when the object is destroyed, and, should the test die first, when its
// process ends.

#include "lameduck/kube/kube_config.hpp"
#include "support/process.hpp"

#include <filesystem>
#include <string>
#include <vector>

namespace lameduck::test {

struct ClusterEnv {
  std::string kubectl; // built at the servers' own version
  std::string api_url;
  std::string api_host;
  std::string ca_file;
  std::string kubeconfig;
  std::string node_name;
  std::string pod_network;
  std::string kube_proxy_token_file;
  std::string admin_token_file;
  std::string audit_log;
  std::string etcd_url;
  std::string service_range;
  std::string node_log; // the kubelet's own log, one JSON object a line (verbosity 3)
};

class RealCluster {
public:
  RealCluster();
  ~RealCluster();
  RealCluster(const RealCluster&) = delete;
  RealCluster& operator=(const RealCluster&) = delete;

  const ClusterEnv& env() const { return m_env; }
  const std::filesystem::path& dir() const { return m_dir; }
  // The tests' own identity, in system:masters.
  KubeConfig admin_config() const;

  Finished kubectl(std::vector<std::string> arguments, std::string stdin_text = {},
                   Duration limit = std::chrono::seconds{60}) const;
  Finished helm(std::vector<std::string> arguments, Duration limit = std::chrono::seconds{180}) const;
  // A namespace enforcing PodSecurity "restricted", as a careful operator labels one.
  void create_restricted_namespace(const std::string& name) const;

private:
  std::filesystem::path m_dir;
  ClusterEnv m_env;
};

// One cluster for every test of the process: starting one takes tens of seconds.
RealCluster& shared_cluster();

} // namespace lameduck::test
