#include "lameduck/pod_identity.hpp"

#include <algorithm>
#include <fstream>
#include <sstream>

namespace lameduck {

namespace {

std::string trim(std::string text) {
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) {
    return {};
  }
  const auto last = text.find_last_not_of(" \t\r\n");
  return text.substr(first, last - first + 1);
}

std::string first_of(const std::string& flag, const std::optional<std::string>& environment_value) {
  return !flag.empty() ? flag : environment_value.value_or("");
}

std::string read_namespace_file(const std::filesystem::path& service_account_dir) {
  std::ifstream file(service_account_dir / "namespace");
  std::stringstream content;
  content << file.rdbuf();
  return trim(content.str());
}

void add_unique(std::vector<std::string>& ips, std::string ip) {
  ip = trim(std::move(ip));
  if (!ip.empty() && std::find(ips.begin(), ips.end(), ip) == ips.end()) {
    ips.push_back(std::move(ip));
  }
}

} // namespace

PodIdentity resolve_pod_identity(const PodIdentityFlags& flags, const Environment& environment,
                                 const std::filesystem::path& service_account_dir) {
  PodIdentity pod;
  pod.name = first_of(flags.name, environment("POD_NAME"));
  pod.uid = first_of(flags.uid, environment("POD_UID"));
  pod.namespace_name = first_of(flags.namespace_name, environment("POD_NAMESPACE"));
  if (pod.namespace_name.empty()) {
    pod.namespace_name = read_namespace_file(service_account_dir);
  }

  if (!flags.ip.empty()) {
    add_unique(pod.ips, flags.ip);
    return pod;
  }
  add_unique(pod.ips, environment("POD_IP").value_or(""));
  std::stringstream all_ips(environment("POD_IPS").value_or(""));
  for (std::string ip; std::getline(all_ips, ip, ',');) {
    add_unique(pod.ips, ip);
  }
  return pod;
}

} // namespace lameduck
