// The fake kube-apiserver held against real clients: if kubectl or python3-kubernetes cannot
// list and watch from it, the fake is wrong, whatever lameduck's own client thinks.

#include "support/kube_tools.hpp"
#include "support/process.hpp"

#include <doctest/doctest.h>

#include <filesystem>

using namespace std::chrono_literals;
using lameduck::Deadline;
using lameduck::test::find_kubectl;
using lameduck::test::Process;
using lameduck::test::run_process;
using lameduck::test::tool_path;

namespace {

struct FakeApiProcess {
  FakeApiProcess()
      : process({tool_path("fake-apiserver"), "--fixtures", std::string(LAMEDUCK_FIXTURES_DIR) + "/k8s",
                 "--delete-pod-on-watch", "300ms"}) {
    const auto listening = process.wait_for_event("apiserver.listening", Deadline::after(10s));
    REQUIRE(listening);
    url = listening->at("url");
    ca_file = listening->at("ca_file");
    token = listening->at("bearer");
  }
  std::vector<std::string> kubectl(std::vector<std::string> arguments) const {
    std::vector<std::string> argv{find_kubectl(), "--server", url, "--certificate-authority", ca_file, "--token", token};
    argv.insert(argv.end(), arguments.begin(), arguments.end());
    return argv;
  }
  Process process;
  std::string url;
  std::string ca_file;
  std::string token;
};

} // namespace

TEST_CASE("kubectl accepts the fake apiserver") {
  const FakeApiProcess api;
  REQUIRE(std::filesystem::exists(find_kubectl()));

  SUBCASE("get -o json") {
    const auto slices = run_process(api.kubectl({"get", "endpointslices", "-n", "payments", "-o", "json"}));
    CHECK(slices.exit_code == 0);
    CAPTURE(slices.stderr_text);
    const auto list = nlohmann::json::parse(slices.stdout_text, nullptr, false);
    REQUIRE(list.is_object());
    CHECK(list["items"].size() == 3);
    const auto selected = run_process(api.kubectl({"get", "endpointslices", "-n", "payments", "-l",
                                                   "kubernetes.io/service-name in (ledger-agent)", "-o", "name"}));
    CHECK(selected.exit_code == 0);
    CHECK(selected.stdout_text.find("endpointslice.discovery.k8s.io/ledger-agent-x7k2p") != std::string::npos);
    const auto pod = run_process(api.kubectl({"get", "pod", "ledger-agent-5c9b7d8f6-qwz4t", "-n", "payments", "-o",
                                              "jsonpath={.metadata.deletionGracePeriodSeconds}"}));
    CHECK(pod.exit_code == 0);
    CHECK(pod.stdout_text == "30\n");
  }
  SUBCASE("get --watch sees the EndpointSlice controller's change") {
    Process watching(api.kubectl({"get", "endpointslices", "-n", "payments", "--watch", "--output-watch-events",
                                  "-o", "json"}));
    const auto modified = watching.wait_for_stdout_containing("\"MODIFIED\"", Deadline::after(15s));
    REQUIRE(modified);
    CHECK(modified->find("\"terminating\":true") != std::string::npos);
  }
  SUBCASE("a token it does not know: kubectl reports the 401 as it does for a real apiserver") {
    auto argv = api.kubectl({"get", "endpointslices", "-n", "payments"});
    argv[6] = "not-the-token";
    const auto refused = run_process(argv);
    CHECK(refused.exit_code != 0);
    CHECK(refused.stderr_text.find("You must be logged in to the server") != std::string::npos);
  }
}

TEST_CASE("python3-kubernetes accepts the fake apiserver") {
  const FakeApiProcess api;
  const auto result = run_process({"/usr/bin/python3", std::string(LAMEDUCK_TESTS_DIR) + "/kube/python_client_check.py",
                                   api.url, api.ca_file, api.token},
                                  {}, 30s);
  CAPTURE(result.stderr_text);
  REQUIRE(result.exit_code == 0);
  const auto seen = nlohmann::json::parse(result.stdout_text);
  CHECK(seen["null_endpoints"] == "Invalid value for `endpoints`, must not be `None`");
  CHECK(seen["listed"] == nlohmann::json({"ledger-agent-r9d4s", "ledger-agent-x7k2p"}));
  REQUIRE(seen["watched"].size() >= 2);
  for (const auto& event : seen["watched"]) {
    CHECK(event[0] == "MODIFIED");
    CHECK(event[2] == nlohmann::json({false}));
  }
  CHECK(seen["pod_deleting"] == true);
}
