#pragma once

// Where the Kubernetes API is and how to prove who we are, as client-go's InClusterConfig
// finds it: KUBERNETES_SERVICE_HOST/PORT (an IPv6 host in brackets), the service account's
// token, ca.crt and namespace files; --kube-api, --kube-token-file and --kube-ca-file win.

#include "lameduck/core/environment.hpp"
#include "lameduck/core/expected.hpp"
#include "lameduck/core/url.hpp"
#include "lameduck/kube/pod_identity.hpp"

#include <filesystem>
#include <mutex>
#include <string>

namespace lameduck {

struct KubeConfigFlags {
  std::string api;        // --kube-api
  std::string token_file; // --kube-token-file
  std::string ca_file;    // --kube-ca-file
};

struct KubeConfig {
  Url server;
  std::string token_file;
  std::string ca_file;
};

// An error says what is missing, for the log line that explains a fallback.
Expected<KubeConfig> resolve_kube_config(const KubeConfigFlags& flags, const Environment& environment,
                                         const std::filesystem::path& service_account_dir = k_service_account_dir);

// The bearer token, read again when its file changes: the kubelet rotates bound tokens at 80 %
// of their life, and a 401 asks for a fresh read at once.
class TokenSource {
public:
  explicit TokenSource(std::string path) : m_path(std::move(path)) {}

  // The current token, or an error naming the file (never the token).
  Expected<std::string> token();
  // Forgets what was read, so that the next token() reads the file.
  void invalidate();

private:
  std::string m_path;
  std::mutex m_mutex;
  std::string m_token;
  std::filesystem::file_time_type m_read_mtime{};
  bool m_loaded = false;
};

} // namespace lameduck
