#pragma once

// A real Kubernetes control plane for the tests (tests/cluster/cluster.sh: etcd,
// kube-apiserver, kube-controller-manager, kube-scheduler at the release tests/cluster/go.mod
// pins) with the process kubelet as its one node, started as this test's child so that the
// test can wait on what it logs. Its images are made from the built binaries:
//   lameduck:dev             the toolkit image (/lameduck/bin/{prestop,readyz-toggle,drain-wait})
//   lameduck-demo-agent:dev  the demo agent (/usr/local/bin/demo-agent)
// Everything goes down when the object is destroyed, and, should the test die first, when its
// process ends.

#include "lameduck/kube/kube_config.hpp"
#include "support/process.hpp"

#include <filesystem>
#include <memory>
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
};

class RealCluster {
public:
  RealCluster();
  ~RealCluster();
  RealCluster(const RealCluster&) = delete;
  RealCluster& operator=(const RealCluster&) = delete;

  const ClusterEnv& env() const { return m_env; }
  const std::filesystem::path& dir() const { return m_dir; }
  // The kube-proxy stand-in's identity: system:kube-proxy, bound by the default roles.
  KubeConfig kube_proxy_config() const;

  Finished kubectl(std::vector<std::string> arguments, std::string stdin_text = {},
                   Duration limit = std::chrono::seconds{60}) const;
  Finished helm(std::vector<std::string> arguments, Duration limit = std::chrono::seconds{180}) const;
  // A namespace enforcing PodSecurity "restricted", as a careful operator labels one.
  void create_restricted_namespace(const std::string& name) const;

  Process& kubelet() { return *m_kubelet; }
  // Where the node keeps a pod's files; a pod that is gone moves to gone/ for the tests to read.
  std::filesystem::path node_root() const { return m_dir / "node"; }

private:
  std::filesystem::path m_dir;
  ClusterEnv m_env;
  std::unique_ptr<Process> m_kubelet;
};

// One cluster for every test of the process: starting one takes tens of seconds.
RealCluster& shared_cluster();

} // namespace lameduck::test
