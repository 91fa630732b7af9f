#include "lameduck/kube/kube_config.hpp"

#include "lameduck/core/durable_file.hpp"
#include "lameduck/core/text.hpp"

namespace lameduck {

Expected<KubeConfig> resolve_kube_config(const KubeConfigFlags& flags, const Environment& environment,
                                         const std::filesystem::path& service_account_dir) {
  KubeConfig config;
  if (!flags.api.empty()) {
    auto url = parse_url(flags.api);
    if (!url) {
      return unexpected("--kube-api: " + url.error().message);
    }
    if (url->scheme != "https") {
      // The bearer token must never cross the network in the clear.
      return unexpected("--kube-api: the API is reached over https only, got " + flags.api);
    }
    config.server = *url;
  } else {
    const auto host = environment("KUBERNETES_SERVICE_HOST");
    const auto port = environment("KUBERNETES_SERVICE_PORT");
    if (!host || !port) {
      return unexpected(std::string(
          "no Kubernetes API configured: KUBERNETES_SERVICE_HOST/PORT are not set and --kube-api is not given"));
    }
    const std::string bracketed = host->find(':') != std::string::npos ? "[" + *host + "]" : *host;
    auto url = parse_url("https://" + bracketed + ":" + *port);
    if (!url) {
      return unexpected("KUBERNETES_SERVICE_HOST/PORT do not make a URL: " + url.error().message);
    }
    config.server = *url;
  }
  config.token_file = !flags.token_file.empty() ? flags.token_file : (service_account_dir / "token").string();
  config.ca_file = !flags.ca_file.empty() ? flags.ca_file : (service_account_dir / "ca.crt").string();
  if (!std::filesystem::exists(config.ca_file)) {
    return unexpected("the CA file " + config.ca_file + " does not exist (TLS to the API is always verified)");
  }
  if (!std::filesystem::exists(config.token_file)) {
    return unexpected("the token file " + config.token_file + " does not exist");
  }
  return config;
}

Expected<std::string> TokenSource::token() {
  const std::lock_guard lock(m_mutex);
  std::error_code error;
  const auto mtime = std::filesystem::last_write_time(m_path, error);
  if (m_loaded && !error && mtime == m_read_mtime) {
    return m_token;
  }
  const auto read = read_small_file(m_path, 64 * 1024);
  if (!read || read->missing) {
    return unexpected("cannot read the token file " + m_path);
  }
  const std::string token = trim_blanks(read->content);
  if (token.empty()) {
    return unexpected("the token file " + m_path + " is empty");
  }
  m_token = std::move(token);
  m_read_mtime = error ? std::filesystem::file_time_type{} : mtime;
  m_loaded = !error;
  return m_token;
}

void TokenSource::invalidate() {
  const std::lock_guard lock(m_mutex);
  m_loaded = false;
}

} // namespace lameduck
