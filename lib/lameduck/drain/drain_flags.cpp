#include "lameduck/drain/drain_flags.hpp"

#include "lameduck/http/http_client.hpp"

namespace lameduck {

namespace {

// A URL this build can ask: https only where the tool was built with TLS (prestop, not
// drain-wait), so that a URL it can never reach is a usage error, not a drain given up on.
Expected<Url> usable_url(const std::string& flag, const std::string& text) {
  auto url = parse_url(text);
  if (!url) {
    return unexpected(flag + ": " + url.error().message);
  }
  if (url->scheme == "https" && !HttpClient::supports_https()) {
    return unexpected(flag + ": " + text + ": this tool speaks plain HTTP only (built without TLS)");
  }
  return url;
}

} // namespace

Expected<DrainClientOptions> drain_client_options(const DrainFlags& flags, std::string termination_id) {
  DrainClientOptions client;
  const auto drain_url = usable_url("--drain-url", flags.drain_url);
  if (!drain_url) {
    return unexpected(drain_url.error());
  }
  client.drain_url = *drain_url;
  if (!flags.status_url.empty()) {
    const auto status_url = usable_url("--status-url", flags.status_url);
    if (!status_url) {
      return unexpected(status_url.error());
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
