#include "lameduck/registry/deregistration.hpp"

#include "lameduck/core/durable_file.hpp"
#include "lameduck/core/text.hpp"
#include "lameduck/core/url.hpp"
#include "lameduck/http/http_retry.hpp"
#include "lameduck/registry/etcd_client.hpp"

#include <future>

namespace lameduck {

namespace {

struct RegistryResult {
  bool complete = false;
  std::string reason;
  LogFields details = LogFields::object();
};

Expected<std::string> read_password(const std::string& path) {
  const auto read = read_small_file(path, 64 * 1024);
  if (!read || read->missing) {
    return unexpected("cannot read --etcd-password-file \"" + path + "\"");
  }
  return trim_line_ends(read->content); // as written by `echo` or a Secret made from a file
}

RegistryResult deregister_from_etcd(const EtcdDeregistration& options, const Deadline& deadline,
                                    const Logger& logger) {
  RegistryResult result;
  EtcdClientOptions client_options{.endpoints = {}, .ca_file = options.ca_file, .cert_file = options.cert_file,
                                   .key_file = options.key_file, .user = options.user, .password = {}};
  for (const auto& endpoint : options.endpoints) {
    auto url = parse_url(endpoint);
    if (!url) {
      result.reason = "--etcd-endpoint: " + url.error().message;
      return result;
    }
    client_options.endpoints.push_back(*url);
  }
  if (!options.password_file.empty()) {
    auto password = read_password(options.password_file);
    if (!password) {
      result.reason = password.error().message;
      return result;
    }
    client_options.password = *password;
  }
  EtcdClient etcd(std::move(client_options), logger);
  int revoked = 0;
  int deleted = 0;
  const auto fail = [&](const std::string& why) {
    result.reason = "etcd: " + why;
    result.details = {{"revokedLeases", revoked}, {"deletedKeys", deleted}, {"requests", etcd.requests()}};
    return result;
  };

  // Leases first: revoking one removes every key under it, the keys named below included.
  for (const auto& key : options.lease_keys) {
    const auto lease = etcd.lease_at(key, deadline);
    if (!lease) {
      return fail(lease.error().message);
    }
    if (!*lease) {
      logger.info("deregister.etcd", "the lease key is already gone", {{"key", key}});
      continue;
    }
    const auto was_live = etcd.revoke_lease(**lease, deadline);
    if (!was_live) {
      return fail(was_live.error().message);
    }
    revoked += *was_live ? 1 : 0;
    logger.info("deregister.etcd", *was_live ? "lease revoked" : "the lease had already ended",
                {{"key", key}, {"lease", **lease}});
  }
  for (const auto& key : options.keys) {
    const auto gone = etcd.delete_key(key, deadline);
    if (!gone) {
      return fail(gone.error().message);
    }
    deleted += static_cast<int>(*gone);
    logger.info("deregister.etcd", *gone > 0 ? "key deleted" : "the key was already gone", {{"key", key}});
  }
  result.complete = true;
  result.reason = "etcd: " + std::to_string(revoked) + " lease(s) revoked, " + std::to_string(deleted) +
                  " key(s) deleted";
  result.details = {{"revokedLeases", revoked}, {"deletedKeys", deleted}, {"requests", etcd.requests()}};
  return result;
}

RegistryResult deregister_over_http(const HttpDeregistration& options, const Deadline& deadline,
                                    const Logger& logger) {
  RegistryResult result;
  const auto url = parse_url(options.url);
  if (!url) {
    result.reason = "--deregister-url: " + url.error().message;
    return result;
  }
  HttpClient client(*url, {.keep_alive = false});
  const auto answer = send_with_retries(client, {.method = options.method, .target = url->target}, deadline,
                                        RetryPolicy{}, logger, "deregister.retry");
  if (!answer) {
    result.reason = options.method + " " + url->text() + ": " + answer.error().message;
    return result;
  }
  const int status = answer->status;
  result.details = {{"status", status}};
  // 404: the registry does not know this service (any more), which is what was asked for.
  result.complete = (status >= 200 && status < 300) || status == 404;
  result.reason = options.method + " " + url->text() + " answered " + std::to_string(status);
  return result;
}

} // namespace

DeregistrationResult deregister(const DeregistrationOptions& options, const Deadline& deadline, const Logger& logger) {
  // Side by side, so that a dead registry costs the other nothing.
  std::future<RegistryResult> etcd;
  if (!options.etcd.endpoints.empty()) {
    etcd = std::async(std::launch::async, deregister_from_etcd, std::cref(options.etcd), deadline, std::cref(logger));
  }
  std::future<RegistryResult> http;
  if (!options.http.url.empty()) {
    http = std::async(std::launch::async, deregister_over_http, std::cref(options.http), deadline, std::cref(logger));
  }

  DeregistrationResult result;
  result.complete = true;
  for (auto* registry : {&etcd, &http}) {
    if (!registry->valid()) {
      continue;
    }
    const RegistryResult done = registry->get();
    result.complete = result.complete && done.complete;
    result.reason += (result.reason.empty() ? "" : "; ") + done.reason;
    result.details[registry == &etcd ? "etcd" : "http"] = done.details;
  }
  return result;
}

} // namespace lameduck
