#include "lameduck/kube/pod_identity.hpp"

#include "lameduck/core/durable_file.hpp"
#include "lameduck/core/text.hpp"

#include <algorithm>
#include <sstream>

namespace lameduck {

namespace {

std::string first_of(const std::string& flag, const std::optional<std::string>& environment_value) {
  return !flag.empty() ? flag : environment_value.value_or("");
}

std::string read_namespace_file(const std::filesystem::path& service_account_dir) {
  const auto read = read_small_file((service_account_dir / "namespace").string(), 4096);
  return read && !read->missing ? trim_blanks(read->content) : std::string{};
}

void add_unique(std::vector<std::string>& ips, std::string ip) {
  ip = trim_blanks(std::move(ip));
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
