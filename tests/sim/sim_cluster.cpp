#include "sim/sim_cluster.hpp"

#include "support/sockets.hpp"

#include <csignal>
#include <filesystem>

namespace lameduck::sim {

namespace {

using namespace std::chrono_literals;

// The kubelet's floor for the time between SIGTERM and SIGKILL once a preStop hook ran
// (minimumGracePeriodInSeconds in pkg/kubelet/kuberuntime/kuberuntime_container.go).
constexpr auto k_minimum_grace = std::chrono::seconds{2};

// pkg/probe/http/request.go: the kubelet's own User-Agent, Accept */*, a new connection each time.
bool probe_once(const std::string& ip, int port, Duration timeout) {
  try {
    const auto answer = test::raw_http_exchange(ip, port,
                                                "GET /readyz HTTP/1.1\r\nHost: " + ip + ":" + std::to_string(port) +
                                                    "\r\nUser-Agent: kube-probe/1.32\r\nAccept: */*\r\n"
                                                    "Connection: close\r\n\r\n",
                                                Deadline::after(timeout));
    const int status = test::raw_http_status(answer);
    return status >= 200 && status < 400;
  } catch (const std::exception&) {
    return false; // refused: the container is not listening (yet, or any more)
  }
}

} // namespace

SimPod::SimPod(SimCluster& cluster, std::string name, std::string uid, std::string ip)
    : m_cluster(cluster), m_name(std::move(name)), m_uid(std::move(uid)), m_ip(std::move(ip)) {}

std::string SimPod::agent_url(const std::string& path) const {
  return "http://" + m_ip + ":" + std::to_string(m_cluster.agent_port()) + path;
}

std::string SimPod::state_file() const {
  return m_cluster.options().state_dir + "/" + m_name + ".json";
}

std::string SimPod::ending() const {
  const std::lock_guard lock(m_cluster.m_mutex);
  return m_ending;
}

std::vector<std::string> SimPod::prestop_log() const {
  const std::lock_guard lock(m_cluster.m_mutex);
  return m_prestop_log;
}

void SimPod::start() {
  const auto& options = m_cluster.options();
  std::vector<std::string> argv{test::tool_path("demo-agent"), "--listen",
                                m_ip + ":" + std::to_string(m_cluster.agent_port()), "--state-file", state_file(),
                                "--worker-id", m_name,
                                "--task-time", std::to_string(to_ms(options.task_time)) + "ms"};
  argv.insert(argv.end(), options.agent_flags.begin(), options.agent_flags.end());
  m_agent = std::make_unique<test::Process>(argv);
  if (!m_agent->wait_for_event("agent.listening", Deadline::after(10s))) {
    throw std::runtime_error("the agent of " + m_name + " did not start: " + m_agent->stderr_text());
  }
  if (!m_readyz) {
    m_readyz = std::make_unique<test::Process>(std::vector<std::string>{
        test::tool_path("readyz-toggle"), "serve", "--listen", m_ip + ":" + std::to_string(m_cluster.readyz_port())});
    if (!m_readyz->wait_for_event("serve.listening", Deadline::after(10s))) {
      throw std::runtime_error("readyz-toggle of " + m_name + " did not start: " + m_readyz->stderr_text());
    }
  }
  m_cluster.note(m_name, "containers started");
}

void SimPod::probe_loop() {
  const auto& options = m_cluster.options();
  int successes = 0;
  int failures = 0;
  for (;;) {
    {
      std::unique_lock lock(m_cluster.m_mutex);
      if (m_cluster.m_changed.wait_for(lock, options.probe_period, [this] { return m_stop_probing.load(); })) {
        return;
      }
    }
    const bool passed = probe_once(m_ip, m_cluster.readyz_port(), options.probe_timeout);
    successes = passed ? successes + 1 : 0;
    failures = passed ? 0 : failures + 1;
    // Consecutive results past the thresholds flip readiness (pkg/kubelet/prober/worker.go).
    const bool flip_on = !m_ready && successes >= options.success_threshold;
    const bool flip_off = m_ready && failures >= options.failure_threshold;
    if (flip_on || flip_off) {
      m_ready = flip_on;
      m_cluster.note(m_name, flip_on ? "readiness probe: ready" : "readiness probe: not ready");
      m_cluster.endpoints_changed();
    }
  }
}

void SimPod::terminate(bool delete_pod, int grace) {
  const auto& options = m_cluster.options();
  const auto started = Clock::now();
  static std::atomic<int> incarnation{0};
  if (delete_pod) {
    m_terminating = true;
    m_cluster.api().mark_deleted(options.namespace_name, m_name, grace);
    m_cluster.note(m_name, "deleted, grace period " + std::to_string(grace) + " s");
    m_cluster.endpoints_changed();
  }

  Duration until_kill = std::chrono::seconds{grace};
  std::unique_ptr<test::Process> hook;
  if (!options.hook_command.empty()) {
    hook = std::make_unique<test::Process>(options.hook_command);
  } else if (options.with_prestop) {
    auto& api = m_cluster.api();
    // A container's /tmp starts empty, so each incarnation of it has its own state directory.
    const std::string state_dir = options.state_dir + "/" + m_name + "-prestop-" + std::to_string(++incarnation);
    std::vector<std::string> argv{test::tool_path("prestop"),
                                  "--grace-period", std::to_string(options.grace_seconds) + "s",
                                  "--readyz-url", "http://" + m_ip + ":" + std::to_string(m_cluster.readyz_port()),
                                  "--drain-url", agent_url("/drain"),
                                  "--service", options.service,
                                  "--kube-api", options.api_down ? "https://127.0.0.1:" + std::to_string(test::closed_port())
                                                                 : api.url(),
                                  "--kube-token-file", api.token_file(),
                                  "--kube-ca-file", api.ca_file(),
                                  "--state-dir", state_dir,
                                  "--termination-log", options.state_dir + "/" + m_name + "-termination-log",
                                  "--container-stdout", ""};
    argv.insert(argv.end(), options.prestop_flags.begin(), options.prestop_flags.end());
    argv.insert(argv.begin(), options.hook_wrapper.begin(), options.hook_wrapper.end());
    hook = std::make_unique<test::Process>(
        argv, test::ProcessOptions{.environment = {{"POD_NAME", m_name}, {"POD_NAMESPACE", options.namespace_name},
                                                   {"POD_UID", m_uid}, {"POD_IPS", m_ip}},
                                   .working_directory = {},
                                   .stdin_text = {}});
  }
  if (hook) {
    m_cluster.note(m_name, "preStop hook started");
    // The kubelet waits for the hook or the grace period, whichever comes first.
    const auto code = hook->wait_exit(Deadline::at(started + std::chrono::seconds{grace}));
    const auto elapsed = std::chrono::floor<std::chrono::seconds>(Clock::now() - started);
    m_cluster.note(m_name, code ? "preStop hook exited with " + std::to_string(*code)
                                : "preStop hook still running at the grace period: abandoned");
    until_kill = std::max<Duration>(std::chrono::seconds{grace} - elapsed, k_minimum_grace);
    const std::lock_guard lock(m_cluster.m_mutex);
    m_prestop_log = hook->stderr_lines();
  }

  m_agent->send_signal(SIGTERM);
  m_cluster.note(m_name, "SIGTERM");
  const auto exited = m_agent->wait_exit(Deadline::after(until_kill));
  {
    const std::lock_guard lock(m_cluster.m_mutex);
    m_ending = exited ? "exited" : "killed";
  }
  if (!exited) {
    m_agent->send_signal(SIGKILL);
    m_agent->wait_exit(Deadline::after(5s));
    m_cluster.note(m_name, "SIGKILL");
  } else {
    m_cluster.note(m_name, "agent exited");
  }
  if (hook) {
    hook->send_signal(SIGKILL); // an abandoned hook dies with its container
  }

  if (!delete_pod) {
    // Restarted in place; the postStart hook turns readiness back on, as a pod spec that
    // uses lameduck for liveness restarts must.
    start();
    test::run_process({test::tool_path("readyz-toggle"), "on", "--url",
                       "http://" + m_ip + ":" + std::to_string(m_cluster.readyz_port())});
    m_cluster.note(m_name, "container restarted");
    return;
  }
  m_stop_probing = true;
  m_cluster.m_changed.notify_all();
  m_readyz->send_signal(SIGTERM);
  m_readyz->wait_exit(Deadline::after(5s));
  m_ready = false;
  m_gone = true;
  m_cluster.api().remove("pods", options.namespace_name, m_name);
  m_cluster.note(m_name, "pod gone");
  m_cluster.endpoints_changed();
}

SimCluster::SimCluster(ClusterOptions options)
    : m_options(std::move(options)), m_agent_port(test::closed_port()), m_readyz_port(test::closed_port()) {
  std::filesystem::create_directories(m_options.state_dir);
  write_slice();
}

SimCluster::~SimCluster() {
  for (auto& pod : m_pods) {
    pod->m_stop_probing = true;
  }
  m_changed.notify_all();
  for (auto& pod : m_pods) {
    if (pod->m_killer.joinable()) {
      pod->m_killer.join();
    }
    if (pod->m_prober.joinable()) {
      pod->m_prober.join();
    }
  }
  for (auto& write : m_controller_writes) {
    write.join();
  }
}

SimPod& SimCluster::add_pod(const std::string& name) {
  std::unique_ptr<SimPod> pod;
  {
    const std::lock_guard lock(m_mutex);
    pod.reset(new SimPod(*this, name, "uid-" + name, "127.0.0." + std::to_string(m_next_ip++)));
  }
  nlohmann::json agent{{"name", "agent"}, {"image", "lameduck-demo-agent:dev"}};
  if (m_options.declare_ports) {
    agent["ports"] = {{{"name", "http"}, {"containerPort", m_agent_port}, {"protocol", "TCP"}}};
  }
  m_api.put("pods", {{"metadata", {{"name", name}, {"namespace", m_options.namespace_name}, {"uid", pod->m_uid},
                                   {"labels", {{"app", m_options.service}}}}},
                     {"spec", {{"terminationGracePeriodSeconds", m_options.grace_seconds}, {"containers", {agent}}}},
                     {"status", {{"phase", "Running"}, {"podIP", pod->m_ip}, {"podIPs", {{{"ip", pod->m_ip}}}}}}});
  pod->start();
  SimPod& started = *pod;
  pod->m_prober = std::thread([&started] { started.probe_loop(); });
  const std::lock_guard lock(m_mutex);
  m_pods.push_back(std::move(pod));
  return started;
}

void SimCluster::delete_pod(SimPod& pod, std::optional<int> grace_seconds) {
  const int grace = grace_seconds.value_or(m_options.grace_seconds);
  pod.m_killer = std::thread([&pod, grace] { pod.terminate(true, grace); });
}

void SimCluster::restart_container(SimPod& pod) {
  if (pod.m_killer.joinable()) {
    pod.m_killer.join();
  }
  const int grace = m_options.grace_seconds;
  pod.m_killer = std::thread([&pod, grace] { pod.terminate(false, grace); });
}

bool SimCluster::wait_gone(SimPod& pod, const Deadline& deadline) {
  std::unique_lock lock(m_mutex);
  return m_changed.wait_until(lock, deadline.when(), [&pod] { return pod.gone(); });
}

bool SimCluster::wait_ready(SimPod& pod, const Deadline& deadline) {
  std::unique_lock lock(m_mutex);
  return m_changed.wait_until(lock, deadline.when(), [&pod] { return pod.ready(); });
}

void SimCluster::note(const std::string& pod, const std::string& what) {
  {
    const std::lock_guard lock(m_mutex);
    m_timeline.push_back({Clock::now() - m_started, pod, what});
  }
  m_changed.notify_all();
}

std::vector<TimelineEntry> SimCluster::timeline() const {
  const std::lock_guard lock(m_mutex);
  return m_timeline;
}

std::vector<SimPod*> SimCluster::pods() {
  const std::lock_guard lock(m_mutex);
  std::vector<SimPod*> all;
  for (auto& pod : m_pods) {
    all.push_back(pod.get());
  }
  return all;
}

void SimCluster::endpoints_changed() {
  const std::lock_guard lock(m_mutex);
  m_controller_writes.emplace_back([this] {
    {
      std::unique_lock wait(m_mutex);
      m_changed.wait_for(wait, m_options.controller_delay, [] { return false; });
    }
    write_slice();
  });
}

// podToEndpoint: serving = the pod is Ready; terminating = it has a deletionTimestamp;
// ready = serving and not terminating. A pod leaves the slice when it is gone.
void SimCluster::write_slice() {
  nlohmann::json endpoints = nlohmann::json::array();
  std::vector<std::pair<std::string, std::string>> changes;
  {
    const std::lock_guard lock(m_mutex);
    for (const auto& pod : m_pods) {
      const bool serving = pod->m_ready;
      const bool terminating = pod->m_terminating;
      const std::string conditions = pod->m_gone ? "removed"
                                                 : std::string("ready=") + (serving && !terminating ? "true" : "false") +
                                                       " serving=" + (serving ? "true" : "false") +
                                                       " terminating=" + (terminating ? "true" : "false");
      if (m_written[pod->m_name] != conditions) {
        m_written[pod->m_name] = conditions;
        changes.emplace_back(pod->m_name, "EndpointSlice: " + conditions);
      }
      if (pod->m_gone) {
        continue;
      }
      endpoints.push_back({{"addresses", {pod->m_ip}},
                           {"conditions", {{"ready", serving && !terminating}, {"serving", serving},
                                           {"terminating", terminating}}},
                           {"nodeName", "sim-node"},
                           {"targetRef", {{"kind", "Pod"}, {"namespace", m_options.namespace_name},
                                          {"name", pod->m_name}, {"uid", pod->m_uid}}}});
    }
  }
  m_api.put("endpointslices",
            {{"metadata", {{"name", m_options.service + "-sim"},
                           {"namespace", m_options.namespace_name},
                           {"labels", {{"kubernetes.io/service-name", m_options.service},
                                       {"endpointslice.kubernetes.io/managed-by", "endpointslice-controller.k8s.io"}}}}},
             {"addressType", "IPv4"},
             {"endpoints", endpoints},
             {"ports", {{{"name", "http"}, {"port", m_agent_port}, {"protocol", "TCP"}}}}});
  for (const auto& [pod, what] : changes) {
    note(pod, what);
  }
}

} // namespace lameduck::sim
