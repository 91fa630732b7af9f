// prestop's deregister phase and its notice to a control plane, as the real binary: against a
// real etcd (plain, and with TLS client certificates and a user), and against HTTP servers
// standing in for Consul and a control plane.

#include "lameduck/core/durable_file.hpp"
#include "support/agent_process.hpp"
#include "support/etcd_process.hpp"
#include "support/http_test_server.hpp"
#include "support/sockets.hpp"
#include "support/temp_dir.hpp"

#include <doctest/doctest.h>

#include <fstream>
#include <mutex>

using namespace std::chrono_literals;
using lameduck::Clock;
using lameduck::test::AgentProcess;
using lameduck::test::EtcdProcess;
using lameduck::test::HttpTestServer;
using lameduck::test::TempDir;
using lameduck::test::tool_path;

namespace {

constexpr const char* k_registration = "services/agent/ledger-agent-7d9c5";

// One prestop delivery with no Kubernetes API (the endpoints phase falls back to a zero
// delay) and no readiness sidecar: only what these tests are about.
struct Delivery {
  explicit Delivery(const TempDir& dir, const std::string& id) : m_dir(dir), m_id(id) {}

  lameduck::test::Finished run(std::vector<std::string> flags) const {
    std::vector<std::string> argv{tool_path("prestop"), "--readyz-url", "", "--fallback-delay", "0s",
                                  "--grace-period", "12s", "--margin", "1s", "--termination-id", m_id,
                                  "--state-dir", m_dir.file("state-" + m_id), "--termination-log",
                                  m_dir.file("log-" + m_id), "--container-stdout", ""};
    argv.insert(argv.end(), flags.begin(), flags.end());
    return lameduck::test::run_process(argv, {.environment = {{"KUBERNETES_SERVICE_HOST", ""},
                                                              {"POD_NAME", "ledger-agent-7d9c5"}},
                                              .working_directory = {}, .stdin_text = {}});
  }

  nlohmann::json phase(const std::string& name) const {
    const auto text = lameduck::read_small_file(m_dir.file("log-" + m_id)).value().content;
    const auto summary = nlohmann::json::parse(text.substr(0, text.find('\n')));
    for (const auto& phase : summary.at("phases")) {
      if (phase.at("phase") == name) {
        return phase;
      }
    }
    FAIL("no phase " << name << " in " << text);
    return {};
  }

private:
  const TempDir& m_dir;
  std::string m_id;
};

std::string closed_url(const std::string& scheme = "http") {
  return scheme + "://127.0.0.1:" + std::to_string(lameduck::test::closed_port());
}

} // namespace

TEST_CASE("deregistering from a real etcd") {
  TempDir dir;

  SUBCASE("the agent's lease is revoked, every key under it is gone, and a second delivery is still done") {
    EtcdProcess etcd;
    const auto lease = etcd.grant_lease(300);
    etcd.put(k_registration, R"({"addr":"10.0.0.7:8080"})", lease);
    etcd.put(std::string(k_registration) + "/capabilities", "summarise,translate", lease);

    const Delivery first(dir, "uid-1");
    // As in a pod spec, where the kubelet expands no $(VAR) in a hook's command.
    const auto run = first.run({"--etcd-endpoint", etcd.url(), "--etcd-lease-from-key", "services/agent/$(POD_NAME)"});
    INFO(run.stderr_text);
    const auto phase = first.phase("deregister");
    CHECK(phase.at("outcome") == "done");
    CHECK(phase.at("etcd").at("revokedLeases") == 1);
    CHECK_FALSE(etcd.get(k_registration));
    CHECK_FALSE(etcd.get(std::string(k_registration) + "/capabilities"));

    const Delivery again(dir, "uid-2");
    again.run({"--etcd-endpoint", etcd.url(), "--etcd-lease-from-key", k_registration, "--etcd-key", k_registration});
    CHECK(again.phase("deregister").at("outcome") == "done");
    CHECK(again.phase("deregister").at("etcd").at("revokedLeases") == 0);
  }

  SUBCASE("over TLS with a client certificate, past a member that is down") {
    EtcdProcess etcd(EtcdProcess::Transport::https_with_client_certificates);
    etcd.put(k_registration, "10.0.0.7:8080");
    const auto& tls = lameduck::test::test_certificates();
    const Delivery delivery(dir, "uid-1");
    const auto run = delivery.run({"--etcd-endpoint", closed_url("https") + "," + etcd.url(), "--etcd-ca-file",
                                   tls.ca_file, "--etcd-cert-file", tls.client_cert_file, "--etcd-key-file",
                                   tls.client_key_file, "--etcd-key", k_registration});
    INFO(run.stderr_text);
    CHECK(delivery.phase("deregister").at("outcome") == "done");
    CHECK(delivery.phase("deregister").at("etcd").at("deletedKeys") == 1);
    CHECK_FALSE(etcd.get(k_registration));
  }

  // (etcd's JSON gateway refuses users when members also require client certificates, so
  // the two are tested apart.)
  SUBCASE("with a user and a password") {
    EtcdProcess etcd;
    etcd.enable_auth("root", "correct horse");
    etcd.put(k_registration, "10.0.0.7:8080");
    std::ofstream(dir.file("password")) << "correct horse\n";
    std::ofstream(dir.file("wrong")) << "wrong";
    // etcd's answer, yes or no, ends the phase at once: the budget only has to outlast one
    // password check on a loaded machine.
    const std::vector<std::string> flags{"--etcd-endpoint", etcd.url(), "--etcd-user", "root", "--etcd-key",
                                         k_registration, "--deregister-timeout", "5s", "--etcd-password-file"};

    SUBCASE("the right one: the key is deleted, and the password is not logged") {
      const Delivery delivery(dir, "uid-1");
      auto argv = flags;
      argv.push_back(dir.file("password"));
      const auto run = delivery.run(argv);
      INFO(run.stderr_text);
      CHECK(delivery.phase("deregister").at("outcome") == "done");
      CHECK_FALSE(etcd.get(k_registration));
      CHECK(run.stderr_text.find("correct horse") == std::string::npos);
    }
    SUBCASE("a wrong one: a clear reason, and the key stays") {
      const Delivery delivery(dir, "uid-1");
      auto argv = flags;
      argv.push_back(dir.file("wrong"));
      delivery.run(argv);
      const auto phase = delivery.phase("deregister");
      CHECK(phase.at("outcome") == "gave_up");
      INFO(phase.dump());
      CHECK(phase.at("reason").get<std::string>().find("user \"root\"") != std::string::npos);
      CHECK(etcd.get(k_registration));
    }
  }

  SUBCASE("etcd down: the phase gives up within its budget and the drain still happens") {
    AgentProcess agent(dir.file("agent.json"));
    const Delivery delivery(dir, "uid-1");
    const auto run = delivery.run({"--etcd-endpoint", closed_url(), "--etcd-key", k_registration,
                                   "--deregister-timeout", "1s", "--drain-url", agent.url("/drain")});
    INFO(run.stderr_text);
    const auto phase = delivery.phase("deregister");
    CHECK(phase.at("outcome") == "gave_up");
    CHECK(phase.at("ms").get<int>() <= 1100);
    CHECK(delivery.phase("drain").at("outcome") == "done");
    CHECK(agent.logged("drain.flushed") == 1);
  }
}

TEST_CASE("deregistering over HTTP and telling a control plane") {
  TempDir dir;
  std::mutex mutex;
  std::vector<std::string> deregistrations;
  std::vector<std::pair<std::string, nlohmann::json>> notices; // Idempotency-Key, body
  int notice_failures = 1;
  HttpTestServer consul([&](httplib::Server& server) {
    server.Put(R"(/v1/agent/service/deregister/(.+))", [&](const httplib::Request& request, httplib::Response& response) {
      const std::lock_guard lock(mutex);
      deregistrations.push_back(request.matches[1]);
      response.status = 404; // as Consul answers for a service it does not know
    });
    server.Post("/terminations", [&](const httplib::Request& request, httplib::Response& response) {
      const std::lock_guard lock(mutex);
      notices.emplace_back(request.get_header_value("Idempotency-Key"), nlohmann::json::parse(request.body));
      response.status = notice_failures-- > 0 ? 502 : 204;
    });
  });

  const Delivery delivery(dir, "uid-1");
  const auto run = delivery.run({"--deregister-url", consul.url("/v1/agent/service/deregister/$(POD_NAME)"),
                                 "--notify-url", consul.url("/terminations")});
  INFO(run.stderr_text);
  CHECK(delivery.phase("deregister").at("outcome") == "done");
  CHECK(deregistrations == std::vector<std::string>{"ledger-agent-7d9c5"});
  // The 502 was tried again, with the same key and the same summary.
  REQUIRE(notices.size() == 2);
  CHECK(notices[1].first == "uid-1");
  CHECK(notices[0] == notices[1]);
  CHECK(notices[1].second.at("terminationId") == "uid-1");
  CHECK(notices[1].second.at("phases").size() == 5); // readiness, deregister, endpoints, quiet, drain
  CHECK(run.stderr_text.find("notify.done") != std::string::npos);
}
