// The real tools, started as the kubelet starts a hook, with one of their peers replaced by
// one that misbehaves (hangs, resets, breaks off, stalls or refuses the TLS handshake,
// trickles). Whatever the peer does, the tool must end by itself with its own exit code (never
// a signal), before its deadline, and still do every step that does not need that peer.

#include "support/agent_process.hpp"
#include "support/fake_apiserver.hpp"
#include "support/faulty_peer.hpp"
#include "support/kube_fixtures.hpp"
#include "support/readyz_process.hpp"
#include "support/sockets.hpp"
#include "support/temp_dir.hpp"
#include "support/termination_log.hpp"
#include "support/test_tls.hpp"

#include <doctest/doctest.h>

using namespace std::chrono_literals;
using lameduck::Deadline;
using lameduck::Duration;
using lameduck::test::AgentProcess;
using lameduck::test::FakeApiServer;
using lameduck::test::FaultyPeer;
using lameduck::test::PeerFault;
using lameduck::test::PeerTransport;
using lameduck::test::Process;
using lameduck::test::ReadyzProcess;
using lameduck::test::run_process;
using lameduck::test::TempDir;
using lameduck::test::tool_path;

namespace {

// prestop's deadline: --grace-period 5s - --margin 1s, from its start.
constexpr Duration k_prestop_deadline = 4s;
constexpr Duration k_drain_wait_timeout = 3s;
// The issue of a tool's life against its deadline, seen from outside (the kubelet's side):
// spawn, start-up and exit included.
constexpr Duration k_past_deadline_allowed = 50ms;

// Which of prestop's peers misbehaves.
enum class Peer { api, readyz, drain, etcd, deregister, notify };

const char* name_of(Peer peer) {
  switch (peer) {
  case Peer::api:
    return "API server";
  case Peer::readyz:
    return "readyz-toggle";
  case Peer::drain:
    return "drain endpoint";
  case Peer::etcd:
    return "etcd";
  case Peer::deregister:
    return "registry (--deregister-url)";
  case Peer::notify:
    return "control plane (--notify-url)";
  }
  return "";
}

// The phase that talks to the peer; the notice comes after the phases.
const char* phase_of(Peer peer) {
  switch (peer) {
  case Peer::api:
    return "endpoints";
  case Peer::readyz:
    return "readiness";
  case Peer::drain:
    return "drain";
  case Peer::etcd:
  case Peer::deregister:
    return "deregister";
  case Peer::notify:
    return "";
  }
  return "";
}

// A pod whose peers all behave: readyz-toggle and the demo agent as real processes, and an
// API server whose EndpointSlice already shows the pod not ready, so that every phase a
// healthy peer serves is done at once and only the faulty peer's phase can give up.
struct HealthyPod {
  HealthyPod() : agent(dir.file("agent.json")) {
    using namespace lameduck::test;
    api.put("pods", pod_object());
    api.put("endpointslices", slice_object("ledger-agent-v4", "ledger-agent", "IPv4",
                                           {endpoint_entry(k_pod_ipv4, k_pod_uid, /*ready=*/false)}));
  }

  std::vector<std::string> prestop_argv(Peer faulty, const FaultyPeer& peer) const {
    const bool tls = peer.url().rfind("https", 0) == 0;
    const auto& ca_file = lameduck::test::test_certificates().ca_file;
    std::vector<std::string> argv{tool_path("prestop"), "--grace-period", "5s", "--margin", "1s",
                                  "--service", "ledger-agent", "--min-delay", "0s", "--fallback-delay", "300ms",
                                  "--deregister-timeout", "1s",
                                  "--state-dir", dir.file("state"), "--termination-log", dir.file("termination-log"),
                                  "--container-stdout", ""};
    const auto add = [&argv](std::initializer_list<std::string> flags) { argv.insert(argv.end(), flags); };
    add({"--kube-token-file", api.token_file()});
    add({"--kube-api", faulty == Peer::api ? peer.url() : api.url(), "--kube-ca-file", ca_file});
    add({"--readyz-url", faulty == Peer::readyz ? peer.url() : readyz.url()});
    add({"--drain-url", faulty == Peer::drain ? peer.url("/drain") : agent.url("/drain")});
    if (faulty == Peer::etcd) {
      add({"--etcd-endpoint", peer.url(), "--etcd-lease-from-key", "services/agents/$(POD_NAME)"});
      if (tls) {
        add({"--etcd-ca-file", ca_file});
      }
    }
    if (faulty == Peer::deregister) {
      add({"--deregister-url", peer.url("/v1/agent/service/deregister/$(POD_NAME)")});
    }
    if (faulty == Peer::notify) {
      add({"--notify-url", peer.url("/v1/terminations")});
    }
    return argv;
  }

  lameduck::test::ProcessOptions environment() const {
    using namespace lameduck::test;
    return {.environment = {{"POD_NAME", k_pod_name}, {"POD_NAMESPACE", k_namespace}, {"POD_UID", k_pod_uid},
                            {"POD_IP", k_pod_ipv4}, {"KUBERNETES_SERVICE_HOST", ""}},
            .working_directory = {},
            .stdin_text = {}};
  }

  nlohmann::json summary() const { return lameduck::test::read_termination_summary(dir.file("termination-log")); }

  TempDir dir;
  FakeApiServer api;
  ReadyzProcess readyz;
  AgentProcess agent;
};

std::string phase_outcome(const nlohmann::json& summary, const std::string& phase) {
  for (const auto& entry : summary.at("phases")) {
    if (entry.at("phase") == phase) {
      return entry.at("outcome").get<std::string>();
    }
  }
  return "absent";
}

// The index of the first stderr line holding `needle`, or -1.
long line_of(const std::vector<std::string>& lines, std::string_view needle) {
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (lines[i].find(needle) != std::string::npos) {
      return static_cast<long>(i);
    }
  }
  return -1;
}

// The faults a tool can meet at a peer. Where the tool has no CA for that peer (the system's
// store does not know the test CA), the certificate is refused before any request is sent:
// over TLS, only the handshake's own faults are reached there.
std::vector<PeerFault> faults_met(PeerTransport transport, bool trusts_the_peer) {
  if (transport == PeerTransport::tls && !trusts_the_peer) {
    return {PeerFault::stall_handshake, PeerFault::tls_alert};
  }
  return lameduck::test::peer_faults(transport);
}

void check_prestop_survives(Peer faulty, PeerTransport transport) {
  for (const PeerFault fault : faults_met(transport, faulty == Peer::api || faulty == Peer::etcd)) {
    HealthyPod pod;
    const FaultyPeer peer(fault, transport);
    INFO(std::string(name_of(faulty)), ": ", peer.describe());
    Process prestop(pod.prestop_argv(faulty, peer), pod.environment());
    const auto exit_code = prestop.wait_exit(Deadline::after(k_prestop_deadline + 20s));
    INFO(prestop.stderr_text());
    REQUIRE(exit_code);

    // Its own exit code, never a signal (128 + n): 1, gave up in the faulty peer's phase;
    // 0 when the peer is the notification's, which comes after the summary.
    CHECK(*exit_code == (faulty == Peer::notify ? 0 : 1));
    CHECK(prestop.lifetime() <= k_prestop_deadline + k_past_deadline_allowed);
    MESSAGE("prestop, ", std::string(name_of(faulty)), " that ", std::string(lameduck::test::peer_fault_name(fault)),
            std::string(transport == PeerTransport::tls ? " (TLS)" : " (plain)"), ": exit ", *exit_code, " after ",
            lameduck::to_ms(prestop.lifetime()), " ms");
    CHECK(peer.connections() >= 1);

    // Every phase whose peer behaved still did its work.
    const auto summary = pod.summary();
    for (const std::string phase : {"readiness", "endpoints", "drain"}) {
      CHECK_MESSAGE(phase_outcome(summary, phase) == (phase == phase_of(faulty) ? "gave_up" : "done"), phase);
    }
    if (faulty == Peer::etcd || faulty == Peer::deregister) {
      CHECK(phase_outcome(summary, "deregister") == "gave_up");
    }
    if (faulty == Peer::notify) {
      CHECK(line_of(prestop.stderr_lines(), R"("event":"notify.failed")") >= 0);
    }
    if (faulty != Peer::drain) {
      CHECK(pod.agent.logged("drain.flushed") == 1);
    }
    const bool api_never_answers = fault == PeerFault::hang || fault == PeerFault::stall_handshake ||
                                   fault == PeerFault::trickle;
    if (faulty == Peer::api && api_never_answers) {
      // Readiness went off without waiting for the pod GET the API never answers.
      const auto lines = prestop.stderr_lines();
      const long readiness_off = line_of(lines, "readiness off");
      CHECK(readiness_off >= 0);
      CHECK(readiness_off < line_of(lines, R"("event":"deadline.pod_unread")"));
    }
  }
}

} // namespace

TEST_CASE("prestop survives a misbehaving API server") {
  check_prestop_survives(Peer::api, PeerTransport::tls);
}

TEST_CASE("prestop survives a misbehaving readyz-toggle") {
  check_prestop_survives(Peer::readyz, PeerTransport::plain);
}

TEST_CASE("prestop survives a misbehaving drain endpoint") {
  check_prestop_survives(Peer::drain, PeerTransport::plain);
  check_prestop_survives(Peer::drain, PeerTransport::tls);
}

TEST_CASE("prestop survives a misbehaving etcd") {
  check_prestop_survives(Peer::etcd, PeerTransport::plain);
  check_prestop_survives(Peer::etcd, PeerTransport::tls);
}

TEST_CASE("prestop survives a misbehaving registry") {
  check_prestop_survives(Peer::deregister, PeerTransport::plain);
  check_prestop_survives(Peer::deregister, PeerTransport::tls);
}

TEST_CASE("prestop survives a misbehaving control plane for the notice") {
  check_prestop_survives(Peer::notify, PeerTransport::plain);
  check_prestop_survives(Peer::notify, PeerTransport::tls);
}

// drain-wait speaks plain HTTP only (it is built without TLS): its agent is on the pod's own
// network, and an https URL is refused as a usage error before anything is sent.
TEST_CASE("drain-wait refuses an https agent as a usage error") {
  const TempDir dir;
  const auto https = run_process(
      {tool_path("drain-wait"), "--drain-url", "https://127.0.0.1:1/drain", "--state-dir", dir.file("state")});
  CHECK(https.exit_code == 2);
  CHECK(https.stderr_text.find("--drain-url: https://127.0.0.1:1/drain: this tool speaks plain HTTP only") !=
        std::string::npos);
}

TEST_CASE("drain-wait survives a misbehaving agent") {
  for (const PeerFault fault : lameduck::test::peer_faults(PeerTransport::plain)) {
    const FaultyPeer peer(fault, PeerTransport::plain);
    INFO("agent: ", peer.describe());
    const TempDir dir;
    Process drain_wait({tool_path("drain-wait"), "--drain-url", peer.url("/drain"), "--timeout", "3s",
                        "--termination-id", "peer-faults", "--state-dir", dir.file("state")});
    const auto exit_code = drain_wait.wait_exit(Deadline::after(k_drain_wait_timeout + 20s));
    INFO(drain_wait.stderr_text());
    REQUIRE(exit_code);
    CHECK(*exit_code == 1);
    CHECK(drain_wait.lifetime() <= k_drain_wait_timeout + k_past_deadline_allowed);
    MESSAGE("drain-wait, agent that ", std::string(lameduck::test::peer_fault_name(fault)), " (plain): exit ",
            *exit_code, " after ", lameduck::to_ms(drain_wait.lifetime()), " ms");
    CHECK(peer.connections() >= 1);
  }
}
