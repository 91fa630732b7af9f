// The lameduck-agent chart against the real API server: installed by the real helm, its pods
// admitted by the real PodSecurity admission plugin under "restricted", run by the node and
// made Ready by their probes; and a values set that breaks the profile refused, in the plugin's
// own words.

#include "agent_release.hpp"
#include "lameduck/core/text.hpp"

#include <doctest/doctest.h>

using namespace std::chrono_literals;
using lameduck::Deadline;
using lameduck::test::AgentRelease;
using lameduck::test::Process;
using lameduck::test::shared_cluster;

TEST_CASE("the chart installs under PodSecurity \"restricted\" and its pods become Ready") {
  auto& cluster = shared_cluster();
  const AgentRelease release(cluster, "chart-ok");
  const auto pods = release.live_pods();
  REQUIRE(pods.size() == 2);
  const auto ready = cluster.kubectl({"get", "pods", "-n", release.namespace_name(), "-o",
                                      "jsonpath={range .items[*]}{.status.conditions[?(@.type==\"Ready\")].status} {end}"});
  CHECK(lameduck::trim_blanks(ready.stdout_text) == "True True");
  // Both containers and the install step ran under the chart's identity and profile.
  const auto users = cluster.kubectl({"get", "pods", "-n", release.namespace_name(), "-o",
                                      "jsonpath={.items[0].spec.securityContext.runAsNonRoot}"});
  CHECK(lameduck::trim_blanks(users.stdout_text) == "true");
}

namespace {

// helm install of the chart with the test images and `value` (a --set), without waiting: what
// helm and the API server say is the test's to read.
lameduck::test::Finished install_with(const lameduck::test::RealCluster& cluster, const std::string& name,
                                      const std::string& value) {
  cluster.create_restricted_namespace(name);
  return cluster.helm({"install", name, lameduck::test::built_chart(cluster), "--namespace", name, "--set",
                       "image.repository=lameduck-demo-agent", "--set", "image.tag=dev", "--set",
                       "lameduck.image.repository=lameduck", "--set", "lameduck.image.tag=dev", "--set", value});
}

} // namespace

TEST_CASE("a values set that breaks \"restricted\" is refused by the admission plugin") {
  auto& cluster = shared_cluster();
  const std::string name = "chart-refused";
  // A Deployment is admitted with a warning; the pods its ReplicaSet makes are refused.
  const auto installed = install_with(cluster, name, "securityContext.allowPrivilegeEscalation=true");
  CAPTURE(installed.stderr_text);
  CAPTURE(installed.stdout_text);
  REQUIRE(installed.exit_code == 0);
  // helm passes the API server's warning on through klog, which quotes it once more.
  CHECK(installed.stderr_text.find("Warning: would violate PodSecurity") != std::string::npos);
  CHECK(installed.stderr_text.find("allowPrivilegeEscalation != false") != std::string::npos);
  Process events({cluster.env().kubectl, "--kubeconfig", cluster.env().kubeconfig, "get", "events", "-n",
                  name, "--field-selector", "reason=FailedCreate", "--watch", "-o",
                  "jsonpath={.message}{\"\\n\"}"});
  const auto refused = events.wait_for_stdout_containing("violates PodSecurity", Deadline::after(60s));
  REQUIRE(refused);
  CAPTURE(*refused);
  CHECK(refused->find("is forbidden: violates PodSecurity \"restricted:latest\": allowPrivilegeEscalation != false "
                      "(container \"agent\" must set securityContext.allowPrivilegeEscalation=false)") !=
        std::string::npos);
}

TEST_CASE("a misspelt field that the values schema lets through is refused by the API server's validation") {
  auto& cluster = shared_cluster();
  // securityContext is free-form in values.schema.json; helm 4 applies server-side, and the API
  // server checks every field against the real schema.
  const auto installed = install_with(cluster, "chart-misspelt", "securityContext.runAsUsr=1000");
  CAPTURE(installed.stderr_text);
  CHECK(installed.exit_code != 0);
  CHECK(installed.stderr_text.find(".spec.template.spec.containers[name=\"agent\"].securityContext.runAsUsr: "
                                   "field not declared in schema") != std::string::npos);
}
