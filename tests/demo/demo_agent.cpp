// A demo agent: accepts tasks over HTTP, works on each for --task-time, and speaks the drain
// protocol through lameduck's DrainController. On drain it checkpoints every task in flight
// and writes all task state durably, keyed by termination id; on start it reloads that state
// and resumes what was checkpointed. Not shipped: the demo and the end-to-end tests stop and
// restart it to show that no accepted task is ever lost.
//
//   demo-agent [--listen 127.0.0.1:0] [--state-file PATH] [--task-time 2s] [--flush-time 0s]
//
//   POST /tasks {"id":"t1"}  202 accepted | 503 draining (Connection: close)
//   GET  /tasks              {"terminationId":..., "tasks":{"t1":{"status":..., "doneMs":N}}}
//   POST/GET /drain          the drain protocol
//   GET  /healthz            200 while the process serves (draining included): the health check
//                            that readyz-toggle's --upstream asks
//   POST /unhealthy          /healthz answers 500 from then on (a liveness restart, shown)

#include "cli/cli.hpp"
#include "lameduck/core/durable_file.hpp"
#include "lameduck/core/signals.hpp"
#include "lameduck/drain/drain_controller.hpp"
#include "lameduck/readiness/readiness_server.hpp"

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

namespace {

using namespace lameduck;
using namespace std::chrono_literals;

struct Task {
  std::string status = "running"; // running | checkpointed | completed
  long long done_ms = 0;          // work done so far
};

class DemoAgent {
public:
  DemoAgent(std::string state_file, Duration task_time, Duration flush_time, const Logger& logger)
      : m_state_file(std::move(state_file)), m_task_time(task_time), m_flush_time(flush_time), m_logger(logger),
        m_drain([this](const std::string& id) { return flush(id); }, logger) {}

  ~DemoAgent() {
    {
      const std::lock_guard lock(m_mutex);
      m_stopping = true;
    }
    m_wake.notify_all();
    for (auto& worker : m_workers) {
      worker.join();
    }
  }

  void load() {
    const auto read = read_small_file(m_state_file, std::size_t{64} << 20);
    if (!read || read->missing) {
      return;
    }
    const auto json = nlohmann::json::parse(read->content, nullptr, false);
    if (!json.is_object() || !json.contains("tasks") || !json["tasks"].is_object()) {
      m_logger.error("state.unusable", "the state file is not usable; starting empty", {{"path", m_state_file}});
      return;
    }
    int resumed = 0;
    for (const auto& [id, saved] : json["tasks"].items()) {
      const Task task{.status = saved.value("status", "checkpointed"), .done_ms = saved.value("doneMs", 0LL)};
      if (task.status == "completed") {
        const std::lock_guard lock(m_mutex);
        m_tasks[id] = task;
      } else {
        start_task(id, task.done_ms);
        ++resumed;
      }
    }
    m_logger.info("state.loaded", "reloaded the flushed state",
                  {{"tasks", json["tasks"].size()}, {"resumed", resumed}, {"from", json.value("terminationId", "")}});
  }

  void route(httplib::Server& server) {
    m_drain.serve_on(server, "/drain");
    server.Post("/tasks", [this](const httplib::Request& request, httplib::Response& response) {
      const auto body = nlohmann::json::parse(request.body, nullptr, false);
      if (!body.is_object() || !body.contains("id") || !body["id"].is_string()) {
        response.status = 400;
        response.set_content(R"({"error":"the body must be {\"id\":\"...\"}"})" "\n", "application/json");
        return;
      }
      if (!start_task(body["id"].get<std::string>(), 0)) {
        // Draining: this client should retry on another pod, over a new connection.
        response.status = 503;
        response.set_header("Connection", "close");
        response.set_content(R"({"error":"draining"})" "\n", "application/json");
        return;
      }
      response.status = 202;
      response.set_content(R"({"status":"running"})" "\n", "application/json");
    });
    server.Get("/tasks", [this](const httplib::Request&, httplib::Response& response) {
      response.set_content(state_json().dump() + "\n", "application/json");
    });
    server.Get("/healthz", [this](const httplib::Request&, httplib::Response& response) {
      if (m_unhealthy) {
        response.status = 500;
        response.set_content("unhealthy: told so\n", "text/plain");
        return;
      }
      response.set_content("ok\n", "text/plain");
    });
    // A fault to show a liveness restart with: from now on the health check fails, while the
    // tasks are served as before.
    server.Post("/unhealthy", [this](const httplib::Request&, httplib::Response& response) {
      m_unhealthy = true;
      m_logger.warn("health.failing", "the health check fails from now on");
      response.set_content("ok\n", "text/plain");
    });
  }

  DrainController& drain() { return m_drain; }

private:
  bool start_task(const std::string& id, long long done_ms) {
    auto guard = m_drain.begin_work();
    if (!guard) {
      return false;
    }
    const std::lock_guard lock(m_mutex);
    m_tasks[id] = Task{.status = "running", .done_ms = done_ms};
    m_workers.emplace_back([this, id, done_ms, work = std::move(*guard)]() mutable { run_task(id, done_ms); });
    return true;
  }

  // Works until done, or checkpoints the moment a drain begins.
  void run_task(const std::string& id, long long done_ms) {
    const long long total = std::chrono::duration_cast<std::chrono::milliseconds>(m_task_time).count();
    const auto resumed_at = Clock::now();
    std::unique_lock lock(m_mutex);
    const auto draining = [this] { return m_stopping || m_drain.status().state != DrainState::accepting; };
    const auto finish_by = resumed_at + std::chrono::milliseconds{std::max(0LL, total - done_ms)};
    const bool interrupted = m_wake.wait_until(lock, finish_by, draining);
    const long long worked = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - resumed_at).count();
    Task& task = m_tasks[id];
    task.done_ms = std::min(total, done_ms + worked);
    task.status = interrupted && task.done_ms < total ? "checkpointed" : "completed";
  }

  Expected<Done> flush(const std::string& termination_id) {
    if (m_flush_time > Duration::zero()) {
      std::unique_lock lock(m_mutex);
      if (m_wake.wait_for(lock, m_flush_time, [this] { return m_stopping; })) {
        return unexpected(std::string("stopping"));
      }
    }
    nlohmann::json state = state_json();
    state["terminationId"] = termination_id;
    auto written = write_file_atomically(m_state_file, state.dump() + "\n");
    if (written) {
      // What was kept, in the log too: a real node removes the pod's volumes with the pod, and
      // `kubectl logs` is then where a test (or an operator) finds which tasks were saved.
      m_logger.info("state.written", "every task written to the state file",
                    {{"termination_id", termination_id}, {"tasks", state["tasks"]}});
    }
    return written;
  }

  nlohmann::json state_json() {
    const std::lock_guard lock(m_mutex);
    nlohmann::json tasks = nlohmann::json::object();
    for (const auto& [id, task] : m_tasks) {
      tasks[id] = {{"status", task.status}, {"doneMs", task.done_ms}};
    }
    return {{"terminationId", m_drain.termination_id()}, {"tasks", tasks}};
  }

public:
  // Wakes the workers when a drain begins, so that they checkpoint at once.
  void notify_drain() { m_wake.notify_all(); }

private:
  std::string m_state_file;
  Duration m_task_time;
  Duration m_flush_time;
  const Logger& m_logger;
  std::mutex m_mutex;
  std::condition_variable m_wake;
  bool m_stopping = false;
  std::map<std::string, Task> m_tasks;
  std::atomic<bool> m_unhealthy{false};
  std::vector<std::thread> m_workers;
  DrainController m_drain;
};

} // namespace

int main(int argc, char* argv[]) {
  std::string listen = "127.0.0.1:0";
  std::string state_file = "/tmp/lameduck-demo-agent.json";
  Duration task_time = 2s;
  Duration flush_time = 0s;
  const auto app = cli::make_app("demo-agent", "A demo agent that speaks the drain protocol.");
  cli::LoggingOptions logging;
  cli::add_logging_options(*app, logging);
  app->add_option("--listen", listen, "Address and port")->type_name("ADDRESS");
  app->add_option("--state-file", state_file, "Where the drained state is flushed")->type_name("PATH");
  cli::add_duration(*app, "--task-time", task_time, "How long each task takes");
  cli::add_duration(*app, "--flush-time", flush_time, "How long writing the state takes (a slow disk)");
  if (const auto exit_now = cli::parse(*app, argc, argv)) {
    return *exit_now;
  }
  const Logger logger = cli::make_logger("demo-agent", logging);
  const auto address = parse_listen_address(listen);
  if (!address) {
    logger.error("config.invalid", "--listen: " + address.error().message);
    return 2;
  }

  ignore_sigpipe();
  const ShutdownSignals signals;
  DemoAgent agent(state_file, task_time, flush_time, logger);
  agent.load();
  httplib::Server server;
  server.set_tcp_nodelay(true); // the drain status must not wait for a delayed ACK
  // After stop(), cpp-httplib still waits out each idle kept-alive connection (a load balancer's
  // pooled ones) for its keep-alive timeout: 1 s, not 5, keeps the exit after SIGTERM prompt,
  // as an agent whose server closes idle connections on shutdown exits.
  server.set_keep_alive_timeout(1);
  // And a kept-alive connection carries any number of requests (cpp-httplib closes it after 5
  // by default), as a load balancer's connections to its targets do.
  server.set_keep_alive_max_count(100000);
  agent.route(server);
  // The tasks checkpoint the moment a drain is accepted.
  server.set_post_routing_handler([&agent](const auto& request, auto&) {
    if (request.path == "/drain" && request.method == "POST") {
      agent.notify_drain();
    }
  });
  const int port = address->port == 0 ? server.bind_to_any_port(address->host)
                                      : (server.bind_to_port(address->host, address->port) ? address->port : -1);
  if (port < 0) {
    logger.error("serve.failed", "cannot listen on " + listen);
    return 1;
  }
  logger.info("agent.listening", "accepting tasks", {{"port", port}, {"state_file", state_file}});
  std::thread serving([&server] { server.listen_after_bind(); });
  const int signal = signals.wait();
  // SIGTERM after an unfinished drain: checkpoint and flush now, as a real agent would.
  if (agent.drain().status().state == DrainState::accepting) {
    agent.drain().start_drain("sigterm");
    agent.notify_drain();
  }
  const Deadline flushed_by = Deadline::after(1s);
  for (auto status = agent.drain().status(); status.state != DrainState::flushed && !flushed_by.expired();) {
    status = agent.drain().wait_for_change(status, flushed_by.remaining());
  }
  logger.info("agent.stopping", "stopping", {{"signal", signal}, {"state", drain_state_name(agent.drain().status().state)}});
  server.stop();
  serving.join();
  return 0;
}
