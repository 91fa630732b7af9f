// The lameduck-agent chart against the real API server and the real node: installed by the
// real helm, its pods admitted by the real PodSecurity admission plugin under "restricted",
// run by the kubelet and made Ready by their probes; a values set that breaks the profile
// refused, in the plugin's own words; the README's pod spec run as written; and the toolkit
// image the node runs checked against deploy/Dockerfile.

#include "agent_release.hpp"
#include "lameduck/core/text.hpp"

#include "support/temp_dir.hpp"

#include <doctest/doctest.h>

#include <fstream>
#include <set>
#include <sstream>

using namespace std::chrono_literals;
using lameduck::Deadline;
using lameduck::test::AgentRelease;
using lameduck::test::Process;
using lameduck::test::container_status;
using lameduck::test::shared_cluster;

namespace {

struct ImageStage {
  nlohmann::json user;
  nlohmann::json entrypoint;
  nlohmann::json cmd;
  std::set<std::string> files; // every path in the image, directories included
};

std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path);
  REQUIRE(in);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// What deploy/Dockerfile's final stage holds: USER, ENTRYPOINT, CMD, and the files the build
// stage copies into what the final stage takes (`cp build/bin/X ... /out/lameduck/bin/`, copied
// to /lameduck).
ImageStage dockerfile_final_stage(const std::filesystem::path& dockerfile) {
  std::istringstream in(read_text(dockerfile));
  ImageStage stage;
  stage.files = {"lameduck", "lameduck/bin"};
  bool final_stage = false;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("FROM scratch", 0) == 0) {
      final_stage = true;
    }
    if (line.find("/out/lameduck/bin/") != std::string::npos && line.find(" cp ") != std::string::npos) {
      std::istringstream words(line);
      for (std::string word; words >> word;) {
        if (word.rfind("build/bin/", 0) == 0) {
          stage.files.insert("lameduck/bin/" + word.substr(std::string("build/bin/").size()));
        }
      }
    }
    if (!final_stage) {
      continue;
    }
    if (line.rfind("USER ", 0) == 0) {
      stage.user = line.substr(5);
    } else if (line.rfind("ENTRYPOINT ", 0) == 0) {
      stage.entrypoint = nlohmann::json::parse(line.substr(11));
    } else if (line.rfind("CMD ", 0) == 0) {
      stage.cmd = nlohmann::json::parse(line.substr(4));
    } else if (line.rfind("COPY ", 0) == 0) {
      CHECK(line == "COPY --from=build /out/lameduck /lameduck");
    }
  }
  return stage;
}

struct OciImage {
  std::string manifest_digest;
  nlohmann::json config;
  std::set<std::string> files;
};

// An OCI image layout tar, unpacked into `dir` and read the way containerd reads it.
OciImage read_oci_image(const std::filesystem::path& tar, const std::filesystem::path& dir) {
  REQUIRE(lameduck::test::run_process({"/usr/bin/tar", "-xf", tar.string(), "-C", dir.string()}).exit_code == 0);
  const auto blob = [&](const std::string& digest) { return dir / "blobs" / "sha256" / digest.substr(7); };
  const auto index = nlohmann::json::parse(read_text(dir / "index.json"));
  OciImage image;
  image.manifest_digest = index["manifests"].at(0)["digest"];
  const auto manifest = nlohmann::json::parse(read_text(blob(image.manifest_digest)));
  image.config = nlohmann::json::parse(read_text(blob(manifest["config"]["digest"])))["config"];
  REQUIRE(manifest["layers"].size() == 1);
  const auto listed = lameduck::test::run_process({"/usr/bin/tar", "-tf", blob(manifest["layers"][0]["digest"]).string()});
  std::istringstream names(listed.stdout_text);
  for (std::string name; std::getline(names, name);) {
    while (!name.empty() && name.back() == '/') {
      name.pop_back();
    }
    image.files.insert(name);
  }
  return image;
}

// The README's pod spec block (the one with the Role beside it), split into its documents.
std::vector<std::string> readme_pod_spec() {
  const auto readme = read_text(std::string(LAMEDUCK_TESTS_DIR) + "/../README.md");
  const auto start = readme.find("```yaml\nspec:\n  terminationGracePeriodSeconds:");
  REQUIRE(start != std::string::npos);
  const auto body = start + std::string("```yaml\n").size();
  const auto end = readme.find("```", body);
  const std::string block = readme.substr(body, end - body);
  std::vector<std::string> documents;
  std::size_t from = 0;
  for (auto cut = block.find("\n---\n"); ; cut = block.find("\n---\n", from)) {
    documents.push_back(block.substr(from, cut == std::string::npos ? std::string::npos : cut - from));
    if (cut == std::string::npos) {
      break;
    }
    from = cut + 5;
  }
  return documents;
}

} // namespace

TEST_CASE("the chart installs under PodSecurity \"restricted\" and its pods become Ready") {
  auto& cluster = shared_cluster();
  const AgentRelease release(cluster, "chart-ok");
  const auto pods = release.live_pods();
  REQUIRE(pods.size() == 2);
  const auto listed = cluster.kubectl({"get", "pods", "-n", release.namespace_name(), "-o", "json"});
  REQUIRE(listed.exit_code == 0);
  for (const auto& pod : nlohmann::json::parse(listed.stdout_text)["items"]) {
    CAPTURE(pod["status"].dump());
    CHECK(pod["spec"]["securityContext"].value("runAsNonRoot", false));
    // The install step copied the tools and ended; the sidecar runs beside the agent, started
    // and ready; the agent is ready through the sidecar's /readyz.
    const auto install = container_status(pod, "lameduck-install");
    CHECK(install["state"]["terminated"].value("exitCode", -1) == 0);
    CHECK(install["state"]["terminated"].value("reason", "") == "Completed");
    const auto sidecar = container_status(pod, "lameduck-readyz");
    CHECK(sidecar["state"].contains("running"));
    CHECK(sidecar.value("started", false));
    const auto agent = container_status(pod, "agent");
    CHECK(agent["state"].contains("running"));
    CHECK(agent.value("ready", false));
  }
  // What the kubelet reported doing, container by container, in the pod's events.
  const auto events = cluster.kubectl({"get", "events", "-n", release.namespace_name(), "--field-selector",
                                       "involvedObject.name=" + pods[0].name, "-o",
                                       "jsonpath={range .items[*]}{.source.component} {.reason} "
                                       "{.involvedObject.fieldPath}{\"\\n\"}{end}"});
  CAPTURE(events.stdout_text);
  for (const char* container : {"spec.initContainers{lameduck-install}", "spec.initContainers{lameduck-readyz}",
                                "spec.containers{agent}"}) {
    CHECK(events.stdout_text.find(std::string("kubelet Started ") + container) != std::string::npos);
  }
}

TEST_CASE("the toolkit image the node runs has exactly deploy/Dockerfile's final stage") {
  auto& cluster = shared_cluster();
  const auto wanted = dockerfile_final_stage(std::string(LAMEDUCK_TESTS_DIR) + "/../deploy/Dockerfile");
  const lameduck::test::TempDir unpacked;
  const auto image = read_oci_image(cluster.dir() / "node" / "images" / "lameduck.tar", unpacked.path());
  CHECK(image.config["User"] == wanted.user);
  CHECK(image.config["Entrypoint"] == wanted.entrypoint);
  CHECK(image.config["Cmd"] == wanted.cmd);
  CHECK(image.files == wanted.files);
  // And it is the image containerd holds under the name the chart uses.
  const auto held = lameduck::test::run_process(
      {"/usr/bin/ctr", "--address", (cluster.dir() / "node" / "containerd.sock").string(), "-n", "k8s.io", "images", "ls",
       "name==docker.io/library/lameduck:dev"});
  CHECK(held.stdout_text.find(image.manifest_digest) != std::string::npos);
}

TEST_CASE("the README's pod spec, applied as written, runs and stops through prestop") {
  auto& cluster = shared_cluster();
  const std::string ns = "readme";
  cluster.create_restricted_namespace(ns);
  // The README's images: the toolkit image under its registry name, and an agent image of the
  // reader's own, here the demo agent set to listen where the spec expects it.
  const std::string socket = (cluster.dir() / "node" / "containerd.sock").string();
  const auto tagged = lameduck::test::run_process({"/usr/bin/ctr", "--address", socket, "-n", "k8s.io", "images", "tag",
                                                   "--force", "docker.io/library/lameduck:dev",
                                                   "registry.example/lameduck:0.1.0"});
  REQUIRE(tagged.exit_code == 0);
  const lameduck::test::TempDir work;
  const auto made = lameduck::test::run_process(
      {"/usr/bin/python3", std::string(LAMEDUCK_TESTS_DIR) + "/cluster/images/oci_image.py", "registry.example/my-agent:1.4.2",
       work.file("my-agent.tar"), "--user", "65532:65532", "--entrypoint", R"(["/usr/local/bin/demo-agent"])",
       "--cmd", R"(["--listen=0.0.0.0:8080", "--state-file=/lameduck/state/agent.json"])",
       std::string(LAMEDUCK_TOOLS_DIR) + "/demo-agent:/usr/local/bin/demo-agent"});
  REQUIRE(made.exit_code == 0);
  REQUIRE(lameduck::test::run_process({"/usr/bin/ctr", "--address", socket, "-n", "k8s.io", "images", "import",
                                       work.file("my-agent.tar")}, {}, 60s).exit_code == 0);

  const auto documents = readme_pod_spec();
  REQUIRE(documents.size() == 3); // the pod spec, the Role, the RoleBinding
  const std::string manifest =
      "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: my-agent}\n---\n"
      "apiVersion: v1\nkind: Service\nmetadata: {name: my-agent}\n"
      "spec: {selector: {app: my-agent}, ports: [{port: 8080}]}\n---\n"
      "apiVersion: v1\nkind: Pod\nmetadata: {name: my-agent, labels: {app: my-agent}}\n" + documents[0] + "\n---\n" +
      documents[1] + "\n---\n" + documents[2] + "\n";
  const auto applied = cluster.kubectl({"apply", "-n", ns, "-f", "-"}, manifest);
  CAPTURE(applied.stderr_text);
  REQUIRE(applied.exit_code == 0);
  const auto ready = cluster.kubectl({"wait", "-n", ns, "--for=condition=Ready", "pod/my-agent", "--timeout=90s"}, {}, 100s);
  CAPTURE(ready.stderr_text);
  REQUIRE(ready.exit_code == 0);

  const lameduck::test::PodTrail trail(cluster.admin_config(), ns);
  const auto uid = cluster.kubectl({"get", "pod", "my-agent", "-n", ns, "-o", "jsonpath={.metadata.uid}"});
  REQUIRE(cluster.kubectl({"delete", "pod", "my-agent", "-n", ns, "--wait=false"}).exit_code == 0);
  const auto last = trail.wait_deleted(lameduck::trim_blanks(uid.stdout_text), Deadline::after(60s));
  REQUIRE(last);
  const auto terminated = container_status(*last, "agent")["state"]["terminated"];
  CAPTURE(terminated.dump());
  CHECK(terminated.value("exitCode", -1) == 0);
  const std::string message = terminated.value("message", "");
  const auto summary = nlohmann::json::parse(message.substr(0, message.find('\n')), nullptr, false);
  REQUIRE(summary.is_object());
  CHECK(summary["outcome"] == "drained");
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
