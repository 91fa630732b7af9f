// The fake API server held against the real one: the same LIST, WATCH (from a resourceVersion,
// with bookmarks; from a version too old, for the 410) and failing requests sent to both, and
// the answers compared field by field once names, uids, versions and times are normalised.
// Every difference must be fixed in the fake or listed, with its reason, in docs/FIDELITY.md.

#include "lameduck/http/http_client.hpp"
#include "support/fake_apiserver.hpp"
#include "support/real_cluster.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

using namespace std::chrono_literals;
using lameduck::Deadline;
using lameduck::test::FakeApiServer;
using lameduck::test::shared_cluster;

namespace {

const std::string k_namespace = "fidelity";
const std::string k_slices = "/apis/discovery.k8s.io/v1/namespaces/fidelity/endpointslices";

struct Api {
  std::string url;
  std::string ca_file;
  std::string token;
};

// One request as lameduck's own client sends it; a watch's body becomes its list of events.
nlohmann::json ask(const Api& api, const std::string& target) {
  lameduck::HttpClientOptions options;
  options.ca_file = api.ca_file;
  lameduck::HttpClient client(lameduck::parse_url(api.url).value(), options);
  lameduck::HttpRequest request;
  request.target = target;
  request.headers = {{"Authorization", "Bearer " + api.token}, {"Accept", "application/json"}};
  const auto answer = client.send(request, Deadline::after(20s));
  REQUIRE(answer);
  nlohmann::json body;
  if (target.find("watch=1") != std::string::npos && answer->status == 200) {
    body = nlohmann::json::array();
    std::istringstream lines(answer->body);
    for (std::string line; std::getline(lines, line);) {
      if (!line.empty()) {
        body.push_back(nlohmann::json::parse(line, nullptr, false));
      }
    }
  } else {
    body = nlohmann::json::parse(answer->body, nullptr, false);
  }
  auto content_type = answer->header("Content-Type");
  return {{"status", answer->status}, {"contentType", content_type}, {"body", body}};
}

// What differs between any two servers, or two runs: made equal before the comparison.
void normalise(nlohmann::json& value, const std::string& key = {}) {
  static const std::set<std::string> varying = {"uid", "resourceVersion", "creationTimestamp", "time",
                                                "generation", "continue", "remainingItemCount"};
  if (value.is_object()) {
    value.erase("managedFields");
    for (auto& [name, field] : value.items()) {
      if (varying.count(name) != 0 && (field.is_string() || field.is_number())) {
        field = "<" + name + ">";
      } else {
        normalise(field, name);
      }
    }
  } else if (value.is_array()) {
    for (auto& item : value) {
      normalise(item, key);
    }
  } else if (value.is_string() && key == "message") {
    // Messages carry versions and names of their own: "too old resource version: 1 (4711)".
    value = std::regex_replace(value.get<std::string>(), std::regex("[0-9]+"), "N");
  }
}

// Field by field: "path: real=... fake=..." for each difference.
void compare(const nlohmann::json& real, const nlohmann::json& fake, const std::string& path,
             std::vector<std::string>& differences) {
  if (real.is_object() && fake.is_object()) {
    std::set<std::string> keys;
    for (const auto& [key, ignored] : real.items()) {
      keys.insert(key);
    }
    for (const auto& [key, ignored] : fake.items()) {
      keys.insert(key);
    }
    for (const auto& key : keys) {
      compare(real.value(key, nlohmann::json()), fake.value(key, nlohmann::json()), path + "." + key, differences);
    }
  } else if (real.is_array() && fake.is_array()) {
    for (std::size_t i = 0; i < std::max(real.size(), fake.size()); ++i) {
      compare(i < real.size() ? real[i] : nlohmann::json(), i < fake.size() ? fake[i] : nlohmann::json(),
              path + "[" + std::to_string(i) + "]", differences);
    }
  } else if (real != fake) {
    differences.push_back(path + ": real=" + real.dump() + " fake=" + fake.dump());
  }
}

// The documented differences: each row of docs/FIDELITY.md's table starts with the path (or
// the start of the paths) it explains.
std::set<std::string> documented_paths() {
  std::set<std::string> paths;
  std::ifstream doc(std::string(LAMEDUCK_TESTS_DIR) + "/../docs/FIDELITY.md");
  const std::regex row(R"(^\| `([^`]+)` \|)");
  for (std::string line; std::getline(doc, line);) {
    std::smatch match;
    if (std::regex_search(line, match, row)) {
      paths.insert(match[1]);
    }
  }
  return paths;
}

nlohmann::json slice(bool ready) {
  return {{"apiVersion", "discovery.k8s.io/v1"},
          {"kind", "EndpointSlice"},
          {"metadata", {{"name", "ledger-agent-abcde"}, {"namespace", k_namespace},
                        {"labels", {{"kubernetes.io/service-name", "ledger-agent"}}}}},
          {"addressType", "IPv4"},
          {"endpoints", {{{"addresses", {"10.0.0.7"}},
                          {"conditions", {{"ready", ready}, {"serving", true}, {"terminating", !ready}}},
                          {"targetRef", {{"kind", "Pod"}, {"namespace", k_namespace}, {"name", "ledger-agent-0"}}}}}},
          {"ports", {{{"name", "http"}, {"port", 8080}, {"protocol", "TCP"}}}}};
}

} // namespace

TEST_CASE("the fake API server answers as the real one does") {
  auto& cluster = shared_cluster();
  // The real side: a namespace and a slice written by the admin; read by the admin, and by
  // kube-proxy's identity, which may list and watch EndpointSlices and not get pods.
  REQUIRE(cluster.kubectl({"create", "namespace", k_namespace}).exit_code == 0);
  REQUIRE(cluster.kubectl({"create", "-f", "-"}, slice(true).dump()).exit_code == 0);
  const auto first_line = [](const std::string& path) {
    std::ifstream in(path);
    std::string line;
    std::getline(in, line);
    return line;
  };
  const Api real{cluster.env().api_url, cluster.env().ca_file, first_line(cluster.env().admin_token_file)};
  const Api real_proxy{real.url, real.ca_file, first_line(cluster.env().kube_proxy_token_file)};
  // The fake side: the same slice, and tokens with the same permissions.
  FakeApiServer fake_server;
  fake_server.allow_token("proxy-token", {"list endpointslices", "watch endpointslices"}, "system:kube-proxy");
  fake_server.put("endpointslices", slice(true));
  const Api fake{fake_server.url(), fake_server.ca_file(), FakeApiServer::k_token};
  const Api fake_proxy{fake.url, fake.ca_file, "proxy-token"};

  std::map<std::string, std::pair<nlohmann::json, nlohmann::json>> answers; // request -> (real, fake)
  const std::string list = k_slices + "?labelSelector=kubernetes.io%2Fservice-name%3Dledger-agent";
  const auto real_list = ask(real, list);
  const auto fake_list = ask(fake, list);
  answers["LIST"] = {real_list, fake_list};

  // A change after the LIST, then a WATCH from the LIST's version: the change, then the end.
  REQUIRE(cluster.kubectl({"replace", "-f", "-"}, slice(false).dump()).exit_code == 0);
  fake_server.put("endpointslices", slice(false));
  const auto from = [](const nlohmann::json& listed) {
    return listed["body"]["metadata"]["resourceVersion"].get<std::string>();
  };
  const std::string watch = list + "&watch=1&allowWatchBookmarks=true&timeoutSeconds=2&resourceVersion=";
  answers["WATCH from the LIST's resourceVersion"] = {ask(real, watch + from(real_list)),
                                                       ask(fake, watch + from(fake_list))};
  // A version older than anything kept: etcd compacted up to now, as the API server has it do
  // every five minutes.
  const auto latest = ask(real, list)["body"]["metadata"]["resourceVersion"].get<std::string>();
  lameduck::HttpClient etcd(lameduck::parse_url(cluster.env().etcd_url).value());
  const auto compacted = etcd.send({.method = "POST", .target = "/v3/kv/compaction", .headers = {},
                                    .body = nlohmann::json{{"revision", latest}, {"physical", true}}.dump(),
                                    .content_type = "application/json"},
                                   Deadline::after(10s));
  REQUIRE(compacted);
  REQUIRE(compacted->status == 200);
  fake_server.compact();
  answers["WATCH from a compacted resourceVersion"] = {ask(real, watch + "1"), ask(fake, watch + "1")};
  answers["GET a missing EndpointSlice"] = {ask(real, k_slices + "/nothing-here"), ask(fake, k_slices + "/nothing-here")};
  const std::string pod = "/api/v1/namespaces/fidelity/pods/ledger-agent-0";
  answers["GET a pod without the permission"] = {ask(real_proxy, pod), ask(fake_proxy, pod)};
  answers["LIST without the permission"] = {ask(real_proxy, "/api/v1/namespaces/fidelity/pods"),
                                            ask(fake_proxy, "/api/v1/namespaces/fidelity/pods")};
  answers["a token the server does not know"] = {ask({real.url, real.ca_file, "not-a-token"}, list),
                                                 ask({fake.url, fake.ca_file, "not-a-token"}, list)};

  const auto documented = documented_paths();
  std::vector<std::string> undocumented;
  for (auto& [request, pair] : answers) {
    auto& [real_answer, fake_answer] = pair;
    normalise(real_answer);
    normalise(fake_answer);
    std::vector<std::string> differences;
    compare(real_answer, fake_answer, request, differences);
    for (const auto& difference : differences) {
      const auto path = difference.substr(0, difference.find(": real="));
      // A documented path covers every difference below it.
      const bool covered = std::any_of(documented.begin(), documented.end(), [&path](const std::string& prefix) {
        return path.rfind(prefix, 0) == 0;
      });
      if (!covered) {
        undocumented.push_back(difference);
      }
    }
  }
  CAPTURE(undocumented);
  CHECK(undocumented.empty());
}
