#include "agent_release.hpp"

#include "lameduck/core/backoff.hpp"
#include "lameduck/core/text.hpp"
#include "lameduck/http/http_client.hpp"
#include "support/appended_file.hpp"
#include "support/process.hpp"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace lameduck::test {

namespace {

using namespace std::chrono_literals;

void require_ok(const Finished& result, const std::string& what) {
  if (result.exit_code != 0) {
    throw std::runtime_error(what + " failed (" + std::to_string(result.exit_code) + "): " + result.stderr_text +
                             result.stdout_text);
  }
}

} // namespace

std::string built_chart(const RealCluster& cluster) {
  static std::string chart;
  if (chart.empty()) {
    const auto copy = cluster.dir() / "charts";
    std::filesystem::copy(std::string(LAMEDUCK_TESTS_DIR) + "/../helm", copy, std::filesystem::copy_options::recursive);
    const auto path = (copy / "lameduck-agent").string();
    require_ok(cluster.helm({"dependency", "build", path}), "helm dependency build");
    chart = path;
  }
  return chart;
}

nlohmann::json test_values() {
  return {
      {"replicas", 2},
      {"image", {{"repository", "lameduck-demo-agent"}, {"tag", "dev"}}},
      {"args", {"--listen=0.0.0.0:8080", "--state-file=/lameduck/state/agent.json", "--task-time=1s"}},
      {"healthPath", "/healthz"},
      {"resources", {{"requests", {{"cpu", "50m"}, {"memory", "32Mi"}}}, {"limits", {{"memory", "64Mi"}}}}},
      {"lameduck",
       {{"image", {{"repository", "lameduck"}, {"tag", "dev"}}},
        {"gracePeriodSeconds", 15},
        {"prestop", {{"events", true}}},
        {"readyz", {{"probe", {{"periodSeconds", 1}}}}}}},
  };
}

AgentRelease::AgentRelease(RealCluster& cluster, std::string name, nlohmann::json values)
    : m_cluster(cluster), m_name(std::move(name)) {
  cluster.create_restricted_namespace(m_name);
  m_trail = std::make_unique<PodTrail>(cluster.admin_config(), m_name);
  nlohmann::json merged = test_values();
  merged.merge_patch(values);
  const auto values_file = cluster.dir() / (m_name + "-values.json");
  std::ofstream(values_file) << merged.dump(2) << "\n";
  require_ok(cluster.helm({"install", m_name, built_chart(cluster), "--namespace", m_name, "--values",
                           values_file.string(), "--wait", "--timeout", "3m"},
                          4min),
             "helm install " + m_name);
}

std::vector<PodRef> AgentRelease::live_pods() const {
  const auto listed = m_cluster.kubectl(
      {"get", "pods", "-n", m_name, "-l", "app.kubernetes.io/instance=" + m_name, "-o", "json"});
  require_ok(listed, "kubectl get pods");
  const auto list = nlohmann::json::parse(listed.stdout_text);
  std::vector<PodRef> pods;
  for (const auto& pod : list.at("items")) {
    if (pod["metadata"].contains("deletionTimestamp")) {
      continue;
    }
    pods.push_back({pod["metadata"]["name"], pod["metadata"]["uid"], pod["status"].value("podIP", "")});
  }
  return pods;
}

std::chrono::system_clock::time_point AgentRelease::delete_pod(const PodRef& pod, std::optional<int> grace) const {
  std::vector<std::string> argv{"delete", "pod", pod.name, "-n", m_name, "--wait=false"};
  if (grace) {
    argv.push_back("--grace-period=" + std::to_string(*grace));
  }
  const auto at = std::chrono::system_clock::now();
  require_ok(m_cluster.kubectl(argv), "kubectl delete pod " + pod.name);
  return at;
}

std::unique_ptr<Process> AgentRelease::follow_log(const PodRef& pod, const std::string& container) const {
  auto log = std::make_unique<Process>(std::vector<std::string>{m_cluster.env().kubectl, "--kubeconfig",
                                                                m_cluster.env().kubeconfig, "logs", "--follow", "-n",
                                                                m_name, pod.name, "-c", container});
  // Following has begun once the container's first line is through.
  if (!log->wait_for_stdout_containing("\"event\"", Deadline::after(30s))) {
    throw std::runtime_error("kubectl logs shows nothing of " + pod.name + "/" + container + ": " +
                             log->stderr_text());
  }
  return log;
}

std::vector<nlohmann::json> AgentRelease::log_lines(const PodRef& pod, const std::string& container,
                                                    Duration limit) const {
  const auto logged = m_cluster.kubectl({"logs", "-n", m_name, pod.name, "-c", container}, {}, limit);
  require_ok(logged, "kubectl logs " + pod.name);
  return json_lines(logged.stdout_text);
}

nlohmann::json AgentRelease::wait_gone(const PodRef& pod, Duration limit) const {
  const auto last = m_trail->wait_deleted(pod.uid, Deadline::after(limit));
  if (!last) {
    throw std::runtime_error("pod " + pod.name + " is still in the API after the time allowed");
  }
  return *last;
}

std::string AgentRelease::service_url() const {
  const auto got = m_cluster.kubectl({"get", "service", m_name, "-n", m_name, "-o",
                                      "jsonpath={.spec.clusterIP}:{.spec.ports[0].port}"});
  require_ok(got, "kubectl get service");
  const std::string url = "http://" + std::string(trim_blanks(got.stdout_text));
  if (!parse_url(url)) {
    throw std::runtime_error("the Service's address is not usable: " + url);
  }
  return url;
}

void AgentRelease::wait_rolled_out(Duration limit) const {
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(limit).count();
  require_ok(m_cluster.kubectl({"rollout", "status", "deployment/" + m_name, "-n", m_name,
                                "--timeout=" + std::to_string(seconds) + "s"},
                               {}, limit + 30s),
             "kubectl rollout status");
}

std::map<std::string, int> audited_requests_of_pod(const RealCluster& cluster, const std::string& service_account,
                                                   const std::string& namespace_name, const std::string& pod) {
  const std::string user = "system:serviceaccount:" + namespace_name + ":" + service_account;
  std::map<std::string, std::set<std::string>> ids;
  std::ifstream in(cluster.env().audit_log);
  for (std::string line; std::getline(in, line);) {
    const auto record = nlohmann::json::parse(line, nullptr, false);
    if (!record.is_object() || record["user"].value("username", "") != user) {
      continue;
    }
    // A bound token names its pod; the API server copies that into the audit record.
    const auto extra = record["user"].value("extra", nlohmann::json::object());
    const auto names = extra.value("authentication.kubernetes.io/pod-name", nlohmann::json::array());
    if (std::find(names.begin(), names.end(), pod) == names.end()) {
      continue;
    }
    const auto object = record.value("objectRef", nlohmann::json::object());
    std::string resource = object.value("resource", "?");
    if (object.contains("subresource")) {
      resource += "/" + object["subresource"].get<std::string>();
    }
    ids[record.value("verb", "?") + " " + resource].insert(record.value("auditID", ""));
  }
  std::map<std::string, int> counts;
  for (const auto& [request, distinct] : ids) {
    counts[request] = static_cast<int>(distinct.size());
  }
  return counts;
}

nlohmann::json wait_kubelet_log(const RealCluster& cluster, const PodRef& pod, const std::string& container,
                                const std::string& message, Duration limit) {
  const auto line = wait_for_appended_line(
      cluster.env().node_log,
      [&](const std::string& text) {
        // Cheap tests first: the log has thousands of lines.
        if (text.find(pod.name) == std::string::npos || text.find(message) == std::string::npos) {
          return false;
        }
        // Some lines name the pod by its uid, others by namespace and name only.
        const auto json = nlohmann::json::parse(text, nullptr, false);
        if (!json.is_object() || json.value("msg", "") != message || json.value("containerName", "") != container) {
          return false;
        }
        return json.contains("podUID") ? json.value("podUID", "") == pod.uid
                                       : json.value("pod", nlohmann::json::object()).value("name", "") == pod.name;
      },
      Deadline::after(limit));
  if (!line) {
    throw std::runtime_error("the kubelet did not log \"" + message + "\" for " + pod.name + "/" + container);
  }
  return nlohmann::json::parse(*line);
}

std::chrono::system_clock::time_point kubelet_log_time(const nlohmann::json& line) {
  const auto ms = std::chrono::duration<double, std::milli>(line.value("ts", 0.0));
  return std::chrono::system_clock::time_point(std::chrono::duration_cast<std::chrono::system_clock::duration>(ms));
}

namespace {

std::vector<nlohmann::json> json_objects(const std::vector<std::string>& lines) {
  std::vector<nlohmann::json> parsed;
  for (const auto& line : lines) {
    auto json = nlohmann::json::parse(line, nullptr, false);
    if (json.is_object()) {
      parsed.push_back(std::move(json));
    }
  }
  return parsed;
}

} // namespace

std::vector<nlohmann::json> json_lines(const Process& log) { return json_objects(log.stdout_lines()); }

std::vector<nlohmann::json> json_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    lines.push_back(line);
  }
  return json_objects(lines);
}

std::optional<nlohmann::json> first_event(const std::vector<nlohmann::json>& lines, const std::string& event) {
  for (const auto& line : lines) {
    if (line.value("event", "") == event) {
      return line;
    }
  }
  return std::nullopt;
}

namespace {

std::set<std::string> task_ids(const nlohmann::json& tasks) {
  std::set<std::string> ids;
  if (tasks.is_object()) {
    for (const auto& [id, task] : tasks.items()) {
      ids.insert(id);
    }
  }
  return ids;
}

} // namespace

std::set<std::string> tasks_written(const Process& agent_log) {
  std::set<std::string> ids;
  for (const auto& line : json_lines(agent_log)) {
    if (line.value("event", "") == "state.written") {
      const auto written = task_ids(line.value("tasks", nlohmann::json::object()));
      ids.insert(written.begin(), written.end());
    }
  }
  return ids;
}

std::set<std::string> tasks_held(const PodRef& pod) {
  HttpClient client(parse_url("http://" + pod.ip + ":8080").value());
  HttpRequest request;
  request.target = "/tasks";
  const auto answer = client.send(request, Deadline::after(5s));
  if (!answer) {
    throw std::runtime_error("GET /tasks of " + pod.name + ": " + answer.error().message);
  }
  const auto state = nlohmann::json::parse(answer->body, nullptr, false);
  return task_ids(state.is_object() ? state.value("tasks", nlohmann::json::object()) : nlohmann::json());
}

int lost_tasks(const std::set<std::string>& accepted, const std::set<std::string>& kept) {
  return static_cast<int>(std::count_if(accepted.begin(), accepted.end(),
                                        [&](const std::string& id) { return kept.count(id) == 0; }));
}

bool wait_until_holds_tasks(const PodRef& pod) {
  const auto deadline = Deadline::after(30s);
  // The agent says nothing when it accepts a task: ask again, backing off, within the deadline.
  Backoff backoff({50ms, 500ms});
  while (tasks_held(pod).empty()) {
    if (!backoff.wait(deadline)) {
      return false;
    }
  }
  return true;
}

std::chrono::system_clock::time_point parse_log_time(const std::string& text) {
  std::tm parts{};
  int consumed = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &parts.tm_year, &parts.tm_mon, &parts.tm_mday,
                  &parts.tm_hour, &parts.tm_min, &parts.tm_sec, &consumed) != 6) {
    throw std::runtime_error("not an RFC 3339 time: " + text);
  }
  parts.tm_year -= 1900;
  parts.tm_mon -= 1;
  auto at = std::chrono::system_clock::from_time_t(::timegm(&parts));
  if (static_cast<std::size_t>(consumed) < text.size() && text[consumed] == '.') {
    std::string digits;
    for (std::size_t i = consumed + 1; i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])); ++i) {
      digits += text[i];
    }
    digits = (digits + "000000000").substr(0, 9);
    at += std::chrono::duration_cast<std::chrono::system_clock::duration>(std::chrono::nanoseconds{std::stoll(digits)});
  }
  return at;
}

} // namespace lameduck::test
