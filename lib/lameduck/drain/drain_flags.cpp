#include "lameduck/drain/drain_flags.hpp"

namespace lameduck {

Expected<DrainClientOptions> drain_client_options(const DrainFlags& flags, std::string termination_id) {
  DrainClientOptions client;
  const auto drain_url = parse_url(flags.drain_url);
  if (!drain_url) {
    return unexpected("--drain-url: " + drain_url.error().message);
  }
  client.drain_url = *drain_url;
  if (!flags.status_url.empty()) {
    const auto status_url = parse_url(flags.status_url);
    if (!status_url) {
      return unexpected("--status-url: " + status_url.error().message);
    }
    client.status_url = *status_url;
  }
  client.termination_id = std::move(termination_id);
  client.poll_interval = flags.poll_interval;
  client.fail_if_missing = flags.fail_if_missing;
  client.connections_ports = flags.connections_ports;
  return client;
}

} // namespace lameduck
