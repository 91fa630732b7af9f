// A demo agent: accepts tasks over HTTP, works on each for --task-time, and speaks the drain
// protocol through lameduck's DrainController. On drain it checkpoints every task in flight.
// Without --state-url it writes all task state to --state-file, keyed by termination id, and
// reloads it on start: what a pod restarted on its own volume resumes. With --state-url (a
// redis:// URL or a file path) it saves the checkpoints to that shared store, and while it
// accepts work it claims pending tasks there and resumes them: what a rollout's successors
// resume. Every task it finishes is logged (task.finished) and reported to the store, the
// ledger that shows each accepted task finished once. Not shipped: the demo and the end-to-end
// tests stop and restart it to show that no accepted task is ever lost.
//
//   demo-agent [--listen 127.0.0.1:0] [--state-file PATH] [--task-time 2s] [--flush-time 0s]
//              [--state-url URL [--state-fallback PATH] [--worker-id NAME] [--lease 10s]]
//
//   POST /tasks {"id":"t1"}  202 {"status":"running","worker":W} | 503 draining (Connection: close)
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
#include "lameduck/state/checkpoint_store.hpp"
#include "lameduck/state/file_checkpoint_store.hpp"

#include <unistd.h>

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

// How long one call to the checkpoint store may take; the drain's flush is retried after.
constexpr auto k_store_call = 3s;
// How often a successor looks for pending tasks, and how many it takes at once.
constexpr auto k_claim_every = 200ms;
constexpr std::size_t k_claim_at_once = 8;

struct Task {
  std::string status = "running"; // running | checkpointed | completed
  long long done_ms = 0;          // work done so far
  CheckpointStore* claimed_from = nullptr; // the store it was resumed from, if any
};

// Where tasks are checkpointed and claimed: the shared store, and the local fallback that
// keeps a drain's checkpoints when the shared one cannot be reached.
struct SharedState {
  std::unique_ptr<CheckpointStore> store;
  std::unique_ptr<CheckpointStore> fallback;
  std::string worker;
  Duration lease = 10s;
};

class DemoAgent {
public:
  DemoAgent(std::string state_file, Duration task_time, Duration flush_time, SharedState shared, const Logger& logger)
      : m_state_file(std::move(state_file)), m_task_time(task_time), m_flush_time(flush_time),
        m_shared(std::move(shared)), m_logger(logger),
        m_drain([this](const std::string& id) { return flush(id); }, logger) {
    if (m_shared.store) {
      m_claimer = std::thread([this] { claim_loop(); });
    }
  }

  ~DemoAgent() {
    {
      const std::lock_guard lock(m_mutex);
      m_stopping = true;
    }
    m_wake.notify_all();
    if (m_claimer.joinable()) {
      m_claimer.join();
    }
    for (auto& worker : m_workers) {
      worker.join();
    }
  }

  void load() {
    if (m_shared.store) {
      return; // the claim loop resumes tasks from the shared store instead
    }
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
        start_task(id, task.done_ms, nullptr);
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
      if (!start_task(body["id"].get<std::string>(), 0, nullptr)) {
        // Draining: this client should retry on another pod, over a new connection.
        response.status = 503;
        response.set_header("Connection", "close");
        response.set_content(R"({"error":"draining"})" "\n", "application/json");
        return;
      }
      // Who took it: a ledger that misses a task then knows whose records to look in.
      response.status = 202;
      response.set_content(nlohmann::json{{"status", "running"}, {"worker", m_shared.worker}}.dump() + "\n",
                           "application/json");
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
  bool start_task(const std::string& id, long long done_ms, CheckpointStore* claimed_from) {
    auto guard = m_drain.begin_work();
    if (!guard) {
      return false;
    }
    const std::lock_guard lock(m_mutex);
    m_tasks[id] = Task{.status = "running", .done_ms = done_ms, .claimed_from = claimed_from};
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
    if (task.status == "completed") {
      CheckpointStore* source = task.claimed_from;
      lock.unlock();
      finished(id, source);
    }
  }

  // The ledger: the log line, and the store's count (which shows work done twice).
  void finished(const std::string& id, CheckpointStore* source) {
    nlohmann::json fields{{"task", id}, {"resumed", source != nullptr}};
    if (CheckpointStore* store = source != nullptr ? source : m_shared.store.get()) {
      const auto completion = store->complete(id, m_shared.worker, Deadline::after(k_store_call));
      fields["store"] = completion ? completion_name(*completion) : "unreachable: " + completion.error().message;
    }
    m_logger.info("task.finished", "finished a task", fields);
  }

  // While the agent accepts work: takes pending tasks from the stores and keeps their leases.
  void claim_loop() {
    auto renewed_at = Clock::now();
    bool unreachable = false;
    std::unique_lock lock(m_mutex);
    while (!m_wake.wait_for(lock, k_claim_every, [this] { return m_stopping; })) {
      if (m_drain.status().state != DrainState::accepting) {
        continue;
      }
      lock.unlock();
      for (CheckpointStore* store : {m_shared.store.get(), m_shared.fallback.get()}) {
        if (store == nullptr) {
          continue;
        }
        auto claimed = store->claim(m_shared.worker, k_claim_at_once, m_shared.lease, Deadline::after(k_store_call));
        if (!claimed) {
          if (!std::exchange(unreachable, true)) {
            m_logger.warn("state.unreachable", "cannot claim pending tasks; trying again",
                          {{"store", store->describe()}, {"error", claimed.error().message}});
          }
          continue;
        }
        unreachable = false;
        for (const auto& task : *claimed) {
          const long long done_ms = task.state.is_object() ? task.state.value("doneMs", 0LL) : 0;
          const bool started = start_task(task.task_id, done_ms, store);
          m_logger.info("task.claimed", "resuming a checkpointed task",
                        {{"task", task.task_id}, {"doneMs", done_ms}, {"from", task.written_by},
                         {"store", store->describe()}, {"started", started}});
          if (!started) {
            // The drain began between the claim and the start: hand it back at once rather than
            // leave it to the lease.
            const CheckpointWriter writer{.worker = m_shared.worker, .termination_id = m_drain.termination_id()};
            const auto returned = store->save(writer, {{.task_id = task.task_id, .state = task.state}},
                                              Deadline::after(k_store_call));
            m_logger.info("task.returned", "handed a claimed task back: draining",
                          {{"task", task.task_id}, {"returned", returned.has_value()}});
          }
        }
      }
      if (Clock::now() - renewed_at >= m_shared.lease / 3) {
        renewed_at = Clock::now();
        renew_leases();
      }
      lock.lock();
    }
  }

  void renew_leases() {
    std::map<CheckpointStore*, std::vector<std::string>> held;
    {
      const std::lock_guard lock(m_mutex);
      for (const auto& [id, task] : m_tasks) {
        if (task.claimed_from != nullptr && task.status == "running") {
          held[task.claimed_from].push_back(id);
        }
      }
    }
    for (const auto& [store, ids] : held) {
      const auto renewed = store->renew(m_shared.worker, ids, m_shared.lease, Deadline::after(k_store_call));
      if (!renewed || *renewed < ids.size()) {
        m_logger.warn("state.lease_lost", "some claimed tasks' leases could not be renewed",
                      {{"store", store->describe()}, {"held", ids.size()},
                       {"renewed", renewed ? nlohmann::json(*renewed) : nlohmann::json(renewed.error().message)}});
      }
    }
  }

  Expected<Done> flush(const std::string& termination_id) {
    if (m_flush_time > Duration::zero()) {
      std::unique_lock lock(m_mutex);
      if (m_wake.wait_for(lock, m_flush_time, [this] { return m_stopping; })) {
        return unexpected(std::string("stopping"));
      }
    }
    if (m_shared.store) {
      return save_checkpoints(termination_id);
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

  // Every task in flight, to the shared store; to the fallback too when that fails, and the
  // flush then fails (the drain is not flushed) so that the controller tries the store again.
  Expected<Done> save_checkpoints(const std::string& termination_id) {
    std::vector<TaskCheckpoint> checkpoints;
    {
      const std::lock_guard lock(m_mutex);
      for (const auto& [id, task] : m_tasks) {
        if (task.status == "checkpointed") {
          checkpoints.push_back({.task_id = id, .state = {{"doneMs", task.done_ms}}});
        }
      }
    }
    const CheckpointWriter writer{.worker = m_shared.worker, .termination_id = termination_id};
    nlohmann::json ids = nlohmann::json::array();
    for (const auto& checkpoint : checkpoints) {
      ids.push_back(checkpoint.task_id);
    }
    const auto saved = m_shared.store->save(writer, checkpoints, Deadline::after(k_store_call));
    if (saved) {
      m_logger.info("state.checkpointed", "every task in flight saved for a successor",
                    {{"termination_id", termination_id}, {"store", m_shared.store->describe()}, {"tasks", ids},
                     {"written", *saved}});
      if (m_in_fallback) {
        // They reached the shared store after all: a restart here must not resume them too.
        std::vector<std::string> kept(ids.begin(), ids.end());
        const auto withdrawn = m_shared.fallback->withdraw(writer, kept, Deadline::after(k_store_call));
        m_logger.info("state.fallback_withdrawn", "the local copies are withdrawn",
                      {{"withdrawn", withdrawn ? nlohmann::json(*withdrawn) : nlohmann::json(withdrawn.error().message)}});
      }
      return Done{};
    }
    if (m_shared.fallback && !m_in_fallback) {
      // Once per drain: the controller retries the flush every 200 ms, and the tasks in flight
      // do not change after the drain began.
      const auto kept = m_shared.fallback->save(writer, checkpoints, Deadline::after(k_store_call));
      m_in_fallback = kept.has_value();
      m_logger.warn("state.fallback", kept ? "the checkpoint store failed: the checkpoints are kept in the local fallback"
                                           : "the checkpoint store and the local fallback both failed",
                    {{"store", m_shared.store->describe()}, {"error", saved.error().message},
                     {"fallback", m_shared.fallback->describe()}, {"tasks", ids},
                     {"fallback_error", kept ? "" : kept.error().message}});
    }
    return unexpected(saved.error());
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
  SharedState m_shared;
  bool m_in_fallback = false; // this drain's checkpoints are in the local fallback
  const Logger& m_logger;
  std::mutex m_mutex;
  std::condition_variable m_wake;
  bool m_stopping = false;
  std::map<std::string, Task> m_tasks;
  std::atomic<bool> m_unhealthy{false};
  std::vector<std::thread> m_workers;
  DrainController m_drain;
  std::thread m_claimer; // last: it uses all of the above
};

// --worker-id, or the pod's name (the Downward API's POD_NAME, else the hostname, which is
// the pod's name in Kubernetes).
std::string default_worker_id() {
  if (const char* pod = std::getenv("POD_NAME"); pod != nullptr && *pod != '\0') {
    return pod;
  }
  char host[256] = {};
  return ::gethostname(host, sizeof host - 1) == 0 ? std::string(host) : "demo-agent";
}

Expected<SharedState> open_shared_state(const std::string& url, const std::string& fallback, std::string worker,
                                        Duration lease) {
  SharedState shared{.worker = worker.empty() ? default_worker_id() : std::move(worker), .lease = lease};
  if (url.empty()) {
    if (!fallback.empty()) {
      return unexpected(std::string("--state-fallback: only with --state-url"));
    }
    return shared;
  }
  auto store = open_checkpoint_store(url);
  if (!store) {
    return unexpected("--state-url: " + store.error().message);
  }
  shared.store = std::move(*store);
  if (!fallback.empty()) {
    shared.fallback = std::make_unique<FileCheckpointStore>(fallback);
  }
  return shared;
}

} // namespace

int main(int argc, char* argv[]) {
  std::string listen = "127.0.0.1:0";
  std::string state_file = "/tmp/lameduck-demo-agent.json";
  Duration task_time = 2s;
  Duration flush_time = 0s;
  std::string state_url;
  std::string state_fallback;
  std::string worker_id;
  Duration lease = 10s;
  const auto app = cli::make_app("demo-agent", "A demo agent that speaks the drain protocol.");
  cli::LoggingOptions logging;
  cli::add_logging_options(*app, logging);
  app->add_option("--listen", listen, "Address and port")->type_name("ADDRESS");
  app->add_option("--state-file", state_file, "Where the drained state is flushed")->type_name("PATH");
  cli::add_duration(*app, "--task-time", task_time, "How long each task takes");
  cli::add_duration(*app, "--flush-time", flush_time, "How long writing the state takes (a slow disk)");
  app->add_option("--state-url", state_url, "The shared checkpoint store: redis://HOST:PORT/DB or a file path")
      ->type_name("URL");
  app->add_option("--state-fallback", state_fallback, "A local file that keeps the checkpoints when the store fails")
      ->type_name("PATH");
  app->add_option("--worker-id", worker_id, "Who claims tasks (default: $POD_NAME, else the hostname)")
      ->type_name("NAME");
  cli::add_duration(*app, "--lease", lease, "How long a claimed task stays this agent's without a renewal");
  if (const auto exit_now = cli::parse(*app, argc, argv)) {
    return *exit_now;
  }
  const Logger logger = cli::make_logger("demo-agent", logging);
  const auto address = parse_listen_address(listen);
  if (!address) {
    logger.error("config.invalid", "--listen: " + address.error().message);
    return 2;
  }

  if (lease <= Duration::zero()) {
    logger.error("config.invalid", "--lease: must be longer than 0");
    return 2;
  }
  auto shared = open_shared_state(state_url, state_fallback, worker_id, lease);
  if (!shared) {
    logger.error("config.invalid", shared.error().message);
    return 2;
  }
  if (shared->store) {
    logger.info("state.store", "checkpoints go to a shared store",
                {{"store", shared->store->describe()}, {"worker", shared->worker},
                 {"fallback", shared->fallback ? shared->fallback->describe() : ""}});
  }

  ignore_sigpipe();
  const ShutdownSignals signals;
  DemoAgent agent(state_file, task_time, flush_time, std::move(*shared), logger);
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
