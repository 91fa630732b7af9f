#pragma once

// A real etcd (Debian's etcd-server) for one test: loopback ports, a temporary data
// directory, ready once it logs that it serves clients; killed when the test ends. With TLS
// it requires client certificates (the test CA's), as production members usually do.
// The calls a registering agent makes (grant a lease, put a key under it) go through etcd's
// JSON gateway, as prestop's own calls do.

#include "lameduck/core/base64.hpp"
#include "lameduck/http/http_client.hpp"
#include "support/process.hpp"
#include "support/sockets.hpp"
#include "support/temp_dir.hpp"
#include "support/test_tls.hpp"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include <optional>
#include <string>

namespace lameduck::test {

class EtcdProcess {
public:
  enum class Transport { http, https_with_client_certificates };

  explicit EtcdProcess(Transport transport = Transport::http)
      : m_tls(transport == Transport::https_with_client_certificates), m_client_port(closed_port()),
        m_process(argv()) {
    REQUIRE(m_process.wait_for_stderr_containing("ready to serve client requests", Deadline::after(std::chrono::seconds{30})));
  }

  std::string url() const {
    return std::string(m_tls ? "https" : "http") + "://127.0.0.1:" + std::to_string(m_client_port);
  }

  // Turns authentication on with `user` as root; later calls from here use its token.
  void enable_auth(const std::string& user, const std::string& password) {
    call("/v3/auth/role/add", {{"name", "root"}});
    call("/v3/auth/user/add", {{"name", user}, {"password", password}});
    call("/v3/auth/user/grant", {{"user", user}, {"role", "root"}});
    call("/v3/auth/enable", nlohmann::json::object());
    m_token = call("/v3/auth/authenticate", {{"name", user}, {"password", password}}).at("token");
  }

  std::string grant_lease(int ttl_seconds) {
    return call("/v3/lease/grant", {{"TTL", std::to_string(ttl_seconds)}}).at("ID");
  }
  void put(const std::string& key, const std::string& value, const std::string& lease = {}) {
    nlohmann::json request{{"key", base64_encode(key)}, {"value", base64_encode(value)}};
    if (!lease.empty()) {
      request["lease"] = lease;
    }
    call("/v3/kv/put", request);
  }
  std::optional<std::string> get(const std::string& key) {
    const auto answer = call("/v3/kv/range", {{"key", base64_encode(key)}});
    if (!answer.contains("kvs")) {
      return std::nullopt;
    }
    return base64_decode(answer["kvs"][0].value("value", "")).value();
  }

private:
  std::vector<std::string> argv() {
    const int peer_port = closed_port();
    const std::string peer = "http://127.0.0.1:" + std::to_string(peer_port);
    std::vector<std::string> all{"/usr/bin/etcd", "--name", "lameduck-test", "--data-dir", m_dir.file("data"),
                                 "--listen-client-urls", url(), "--advertise-client-urls", url(),
                                 "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                                 "--initial-cluster", "lameduck-test=" + peer,
                                 // The least bcrypt cost etcd takes: every password check (each
                                 // authenticate) then costs a millisecond, not 50-500 ms of a
                                 // loaded core, which a test's deadline would have to absorb.
                                 "--bcrypt-cost", "4"};
    if (m_tls) {
      const auto& tls = test_certificates();
      all.insert(all.end(), {"--cert-file", tls.cert_file, "--key-file", tls.key_file, "--trusted-ca-file", tls.ca_file,
                             "--client-cert-auth"});
    }
    return all;
  }

  nlohmann::json call(const std::string& path, const nlohmann::json& request) {
    const auto& tls = test_certificates();
    HttpClient client(parse_url(url()).value(),
                      m_tls ? HttpClientOptions{.ca_file = tls.ca_file, .client_cert_file = tls.client_cert_file,
                                                .client_key_file = tls.client_key_file}
                            : HttpClientOptions{});
    HttpRequest http{.method = "POST", .target = path, .headers = {}, .body = request.dump(),
                     .content_type = "application/json"};
    if (!m_token.empty()) {
      http.headers.emplace_back("Authorization", m_token);
    }
    const auto answer = client.send(http, Deadline::after(std::chrono::seconds{10}));
    REQUIRE_MESSAGE(answer, path);
    REQUIRE_MESSAGE(answer->status == 200, path << " answered " << answer->status << ": " << answer->body);
    return nlohmann::json::parse(answer->body);
  }

  bool m_tls;
  TempDir m_dir;
  int m_client_port;
  std::string m_token;
  Process m_process;
};

} // namespace lameduck::test
