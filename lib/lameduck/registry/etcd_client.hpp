#pragma once

// The few etcd v3 calls deregistration needs, over etcd's JSON gateway (the gRPC API as
// HTTP+JSON at /v3/...; keys and values in base64, 64-bit numbers as strings). With several
// endpoints, a call that cannot reach one (or that one answers 5xx) goes to the next, as
// etcd's own clients do. With a user, it authenticates first and sends the token it gets.

#include "lameduck/core/deadline.hpp"
#include "lameduck/core/expected.hpp"
#include "lameduck/core/log.hpp"
#include "lameduck/core/url.hpp"
#include "lameduck/http/http_client.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace lameduck {

struct EtcdClientOptions {
  std::vector<Url> endpoints;
  std::string ca_file;   // https: the CA that signed the members' certificates
  std::string cert_file; // client certificate, for members started with --client-cert-auth
  std::string key_file;
  std::string user; // empty: no authentication
  std::string password;
};

class EtcdClient {
public:
  EtcdClient(EtcdClientOptions options, const Logger& logger);
  ~EtcdClient();
  EtcdClient(const EtcdClient&) = delete;
  EtcdClient& operator=(const EtcdClient&) = delete;

  // Deletes one key; returns how many keys went (0 when it was already gone).
  Expected<std::int64_t> delete_key(const std::string& key, const Deadline& deadline);

  // The lease a key names: the lease it is attached to, else its value read as a lease id
  // (decimal, or hex as etcdctl prints it: "0x..." or with a letter a-f). Nothing when the
  // key does not exist.
  Expected<std::optional<std::int64_t>> lease_at(const std::string& key, const Deadline& deadline);

  // Revokes a lease and so deletes every key attached to it; false when it had already
  // expired or been revoked.
  Expected<bool> revoke_lease(std::int64_t lease, const Deadline& deadline);

  // Requests sent so far, over all endpoints (for the report).
  int requests() const { return m_requests; }

private:
  struct Answer {
    int status = 0;
    nlohmann::json body;
  };
  // Why one call to one member failed, and whether trying again (there or at the next member)
  // can help: a member that is down or busy can; a password etcd refused cannot.
  struct CallFailure {
    std::string message;
    bool retryable = true;
  };
  Expected<Answer> call(const std::string& path, const nlohmann::json& request, const Deadline& deadline);
  Expected<Answer, CallFailure> call_once(std::size_t endpoint, const std::string& path,
                                          const nlohmann::json& request, const Deadline& deadline);
  Expected<Done, CallFailure> authenticate(std::size_t endpoint, const Deadline& deadline);

  EtcdClientOptions m_options;
  const Logger& m_logger;
  std::vector<HttpClient> m_clients; // one per endpoint
  std::size_t m_current = 0;         // the endpoint that answered last
  std::string m_token;
  int m_requests = 0;
};

// A lease id as etcd prints it: the value of a key or a number in JSON (which the gateway
// writes as a string). Nothing when the text is not one.
std::optional<std::int64_t> parse_lease_id(std::string_view text);

} // namespace lameduck
