// prestop's drain steps against the real things they stop: Debian's nginx (QUIT) and haproxy
// (USR1) as reverse proxies in front of a slow backend, a log shipper stand-in drained after
// the demo agent, commands that hang, processes that are not there, and a sidecar's hold.

#include "lameduck/core/durable_file.hpp"
#include "support/agent_process.hpp"
#include "support/appended_file.hpp"
#include "support/process.hpp"
#include "support/sockets.hpp"
#include "support/temp_dir.hpp"

#include <doctest/doctest.h>

#include <condition_variable>
#include <fstream>
#include <future>
#include <mutex>
#include <thread>
#include <unistd.h>

using namespace std::chrono_literals;
using lameduck::Clock;
using lameduck::Deadline;
using lameduck::test::Process;
using lameduck::test::TempDir;
using lameduck::test::tool_path;

namespace {

// An upstream that holds each request until released, so that one is surely in flight through
// the proxy when the proxy is told to stop.
class SlowBackend {
public:
  SlowBackend() : m_thread([this] { serve(); }) {}
  ~SlowBackend() {
    release();
    m_thread.join();
  }
  int port() const { return m_listener.port(); }
  bool wait_for_request(const Deadline& deadline) {
    std::unique_lock lock(m_mutex);
    return m_changed.wait_until(lock, deadline.when(), [this] { return m_received > 0; });
  }
  void release() {
    const std::lock_guard lock(m_mutex);
    m_released = true;
    m_changed.notify_all();
  }

private:
  void serve() {
    int fd = -1;
    try {
      fd = m_listener.accept(Deadline::after(30s));
    } catch (const std::exception&) {
      return;
    }
    std::string head;
    char chunk[4096];
    while (head.find("\r\n\r\n") == std::string::npos) {
      const ssize_t got = ::read(fd, chunk, sizeof chunk);
      if (got <= 0) {
        break;
      }
      head.append(chunk, static_cast<std::size_t>(got));
    }
    std::unique_lock lock(m_mutex);
    ++m_received;
    m_changed.notify_all();
    m_changed.wait_for(lock, 30s, [this] { return m_released; });
    const std::string answer = "HTTP/1.1 200 OK\r\nContent-Length: 8\r\nConnection: close\r\n\r\nfinished";
    (void)::write(fd, answer.data(), answer.size());
    ::close(fd);
  }

  lameduck::test::LoopbackListener m_listener;
  std::mutex m_mutex;
  std::condition_variable m_changed;
  int m_received = 0;
  bool m_released = false;
  std::thread m_thread;
};

bool refuses(int port) {
  try {
    lameduck::test::TcpConnection connection("127.0.0.1", port);
    return false;
  } catch (const std::exception&) {
    return true;
  }
}

// Until the port accepts a connection (the server has started), or the deadline.
bool wait_until_accepting(int port, const Deadline& deadline) {
  while (refuses(port)) {
    if (!lameduck::sleep_within(10ms, deadline)) {
      return false;
    }
  }
  return true;
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
}

std::vector<std::string> prestop_argv(const TempDir& dir, std::vector<std::string> extra) {
  std::vector<std::string> argv{tool_path("prestop"), "--readyz-url", "", "--until-quiet", "0", "--min-delay", "0",
                                "--fallback-delay", "0", "--grace-period", "20s", "--margin", "1s",
                                "--state-dir", dir.file("state"), "--termination-log", dir.file("termination-log"),
                                "--container-stdout", "", "--termination-id", "t1"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return argv;
}

// No API: the endpoints phase falls back at once, and the drain has nearly all of the budget.
const lameduck::test::ProcessOptions k_no_api{.environment = {{"KUBERNETES_SERVICE_HOST", ""}},
                                              .working_directory = {},
                                              .stdin_text = {}};

nlohmann::json drain_phase(Process& prestop) {
  const auto summary = prestop.wait_for_event("prestop.summary", Deadline::after(30s));
  REQUIRE(summary);
  for (const auto& phase : summary->at("phases")) {
    if (phase["phase"] == "drain") {
      return phase;
    }
  }
  FAIL("no drain phase in the summary");
  return {};
}

// The proxy scenario both servers share: a request in flight when prestop signals, finished
// after; no new connection from then on; the step over long before its deadline.
void check_proxy_drain(const TempDir& dir, Process& proxy, int proxy_port, SlowBackend& backend,
                       const std::string& step) {
  REQUIRE(wait_until_accepting(proxy_port, Deadline::after(10s)));
  auto in_flight = std::async(std::launch::async, [proxy_port] {
    return lameduck::test::raw_http_exchange("127.0.0.1", proxy_port,
                                             "GET /slow HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                                             Deadline::after(30s));
  });
  REQUIRE(backend.wait_for_request(Deadline::after(10s)));

  const auto started = Clock::now();
  Process prestop(prestop_argv(dir, {"--drain-step", step}), k_no_api);
  REQUIRE(prestop.wait_for_event("step.signalled", Deadline::after(10s)));
  // No new connection once it has been told: the listeners close, and stay closed.
  const Deadline closing = Deadline::after(5s);
  while (!refuses(proxy_port) && lameduck::sleep_within(5ms, closing)) {
  }
  CHECK(refuses(proxy_port));
  // The request in flight holds the step.
  CHECK(in_flight.wait_for(200ms) == std::future_status::timeout);
  CHECK(!prestop.wait_exit(Deadline::after(1ms)));
  CHECK(refuses(proxy_port));

  backend.release();
  const std::string answer = in_flight.get();
  CHECK(lameduck::test::raw_http_status(answer) == 200);
  CHECK(answer.find("finished") != std::string::npos);

  const auto phase = drain_phase(prestop);
  CAPTURE(phase.dump());
  CHECK(phase["outcome"] == "done");
  CHECK(phase["steps"].size() == 1);
  CHECK(phase["steps"][0]["kind"] == "signal");
  CHECK(phase["steps"][0]["outcome"] == "done");
  // Well before the step's deadline (all of the ~19 s budget).
  CHECK(phase["steps"][0]["budgetMs"].get<long long>() > 15000);
  CHECK(phase["steps"][0]["ms"].get<long long>() < 5000);
  CHECK(Clock::now() - started < 8s);
  prestop.finish();
  // And the server is gone: master and workers.
  CHECK(proxy.wait_exit(Deadline::after(5s)));
}

} // namespace

TEST_CASE("drain step: signal") {
  SUBCASE("nginx in front of a slow backend: QUIT lets the request in flight finish, accepts nothing new, and the "
          "step ends when nginx has stopped") {
    TempDir dir;
    SlowBackend backend;
    const int port = lameduck::test::closed_port();
    const std::string pid_file = dir.file("nginx.pid");
    write_file(dir.file("nginx.conf"),
               "daemon off;\nmaster_process on;\nworker_processes 2;\npid " + pid_file + ";\nerror_log " +
                   dir.file("error.log") + " info;\nevents { worker_connections 64; }\nhttp {\n  access_log off;\n"
                   "  client_body_temp_path " + dir.file("body") + ";\n  proxy_temp_path " + dir.file("proxy") +
                   ";\n  fastcgi_temp_path " + dir.file("fcgi") + ";\n  uwsgi_temp_path " + dir.file("uwsgi") +
                   ";\n  scgi_temp_path " + dir.file("scgi") + ";\n  server {\n    listen 127.0.0.1:" +
                   std::to_string(port) + ";\n    location / { proxy_pass http://127.0.0.1:" +
                   std::to_string(backend.port()) + "; proxy_read_timeout 60s; }\n  }\n}\n");
    Process nginx({"/usr/sbin/nginx", "-p", dir.path().string(), "-c", dir.file("nginx.conf"), "-e",
                   dir.file("error.log")});
    REQUIRE(wait_until_accepting(port, Deadline::after(10s)));
    check_proxy_drain(dir, nginx, port, backend, "signal:pidfile=" + pid_file + ":QUIT");
  }
  SUBCASE("haproxy in front of a slow backend: USR1 (soft stop) does the same") {
    TempDir dir;
    SlowBackend backend;
    const int port = lameduck::test::closed_port();
    write_file(dir.file("haproxy.cfg"),
               "global\n  maxconn 64\ndefaults\n  mode http\n  timeout connect 2s\n  timeout client 60s\n"
               "  timeout server 60s\nfrontend in\n  bind 127.0.0.1:" + std::to_string(port) +
                   "\n  default_backend out\nbackend out\n  server slow 127.0.0.1:" + std::to_string(backend.port()) +
                   "\n");
    Process haproxy({"/usr/sbin/haproxy", "-db", "-f", dir.file("haproxy.cfg")});
    write_file(dir.file("haproxy.pid"), std::to_string(haproxy.pid()) + "\n");
    check_proxy_drain(dir, haproxy, port, backend, "signal:pidfile=" + dir.file("haproxy.pid") + ":USR1");
  }
  SUBCASE("a process by name that is not there: the step says so, and the next step still runs") {
    TempDir dir;
    const std::string name = "ldk-none-" + std::to_string(::getpid());
    Process prestop(prestop_argv(dir, {"--drain-step", "signal:" + name + ":QUIT", "--drain-step", "exec:/bin/true"}),
                    k_no_api);
    const auto phase = drain_phase(prestop);
    CAPTURE(phase.dump());
    CHECK(phase["steps"][0]["outcome"] == "skipped");
    CHECK(phase["steps"][0]["reason"].get<std::string>().find("no process named " + name) != std::string::npos);
    CHECK(phase["steps"][1]["outcome"] == "done");
    CHECK(phase["outcome"] == "done");
    prestop.finish();
  }
  SUBCASE("a process found by name that stops on the signal: done when it has exited") {
    TempDir dir;
    // A name of its own, so that nothing else on the machine is signalled: /bin/sleep under it.
    const std::string name = "ldk-sl-" + std::to_string(::getpid() % 100000);
    std::filesystem::create_symlink("/bin/sleep", dir.file(name));
    Process sleeper({dir.file(name), "60"});
    const Deadline started_by = Deadline::after(5s);
    while (lameduck::test::run_process({"/usr/bin/pgrep", "-x", name}).exit_code != 0 &&
           lameduck::sleep_within(5ms, started_by)) {
    }
    Process prestop(prestop_argv(dir, {"--drain-step", "signal:" + name + ":TERM"}), k_no_api);
    const auto phase = drain_phase(prestop);
    CAPTURE(phase.dump());
    CHECK(phase["steps"][0]["outcome"] == "done");
    CHECK(phase["steps"][0]["exited"] == true);
    CHECK(phase["steps"][0]["pids"][0] == sleeper.pid());
    prestop.finish();
  }
}

TEST_CASE("drain step: exec") {
  SUBCASE("a command that hangs is cut at its timeout, its process group killed, and the next step still runs") {
    TempDir dir;
    // A sleep of a name of its own in the background of the command: the kill must reach it too.
    const std::string name = "ldk-ex-" + std::to_string(::getpid() % 100000);
    std::filesystem::create_symlink("/bin/sleep", dir.file(name));
    const auto started = Clock::now();
    Process prestop(prestop_argv(dir, {"--drain-step", "exec:/bin/sh,-c," + dir.file(name) + " 60 & sleep 60@500ms", "--drain-step",
                                       "exec:/bin/touch," + dir.file("second-ran")}),
                    k_no_api);
    const auto phase = drain_phase(prestop);
    CAPTURE(phase.dump());
    CHECK(phase["outcome"] == "gave_up");
    CHECK(phase["steps"][0]["outcome"] == "gave_up");
    CHECK(phase["steps"][0]["killed"] == true);
    CHECK(phase["steps"][0]["budgetMs"] == 500);
    CHECK(phase["steps"][0]["ms"].get<long long>() >= 500);
    CHECK(phase["steps"][0]["ms"].get<long long>() < 1500);
    CHECK(phase["steps"][1]["outcome"] == "done");
    CHECK(std::filesystem::exists(dir.file("second-ran")));
    // SIGKILL is delivered at once, but the orphan is reaped by whoever adopts it: wait for that.
    const Deadline reaped = Deadline::after(5s);
    while (lameduck::test::run_process({"/usr/bin/pgrep", "-x", name}).exit_code == 0 &&
           lameduck::sleep_within(10ms, reaped)) {
    }
    CHECK(lameduck::test::run_process({"/usr/bin/pgrep", "-x", name}).exit_code == 1);
    CHECK(prestop.finish() == 1);
    CHECK(Clock::now() - started < 5s);
  }
  SUBCASE("a command that fails gives up its step; one that cannot start says why") {
    TempDir dir;
    Process prestop(prestop_argv(dir, {"--drain-step", "exec:/bin/false", "--drain-step", "exec:/nonexistent/flush"}),
                    k_no_api);
    const auto phase = drain_phase(prestop);
    CAPTURE(phase.dump());
    CHECK(phase["steps"][0]["reason"].get<std::string>().starts_with("exited 1"));
    CHECK(phase["steps"][1]["reason"] == "cannot run /nonexistent/flush: No such file or directory");
    prestop.finish();
  }
}

TEST_CASE("drain step: a log shipper drained after the agent") {
  SUBCASE("the agent's last log line is shipped") {
    TempDir dir;
    const std::string agent_log = dir.file("agent.log");
    write_file(agent_log, "");
    // The agent logs to a file, as a container runtime would keep its stderr; the shipper tails it.
    Process agent({"/bin/sh", "-c", "exec \"$0\" --state-file \"$1\" --task-time 30s 2>>\"$2\"",
                   tool_path("demo-agent"), dir.file("agent.json"), agent_log});
    const auto listening = lameduck::test::wait_for_appended_line(
        agent_log, [](const std::string& line) { return line.find("agent.listening") != std::string::npos; },
        Deadline::after(10s));
    REQUIRE(listening);
    const int agent_port = nlohmann::json::parse(*listening).at("port").get<int>();
    Process shipper({tool_path("log-shipper"), "--input", agent_log, "--output", dir.file("shipped.log")});
    const auto shipper_listening = shipper.wait_for_event("shipper.listening", Deadline::after(10s));
    REQUIRE(shipper_listening);
    const int shipper_port = shipper_listening->at("port").get<int>();

    Process prestop(prestop_argv(dir, {"--drain-url", "http://127.0.0.1:" + std::to_string(agent_port) + "/drain",
                                       "--drain-url", "http://127.0.0.1:" + std::to_string(shipper_port) + "/drain"}),
                    k_no_api);
    const auto phase = drain_phase(prestop);
    CAPTURE(phase.dump());
    CHECK(phase["outcome"] == "done");
    CHECK(phase["drain"] == "flushed"); // the agent's, as with one --drain-url
    REQUIRE(phase["steps"].size() == 2);
    CHECK(phase["steps"][0]["outcome"] == "done");
    CHECK(phase["steps"][1]["outcome"] == "done");
    prestop.finish();

    // The agent's last line before prestop was over is its "drain.flushed"; the shipper has it.
    const std::string log = lameduck::read_small_file(agent_log).value().content;
    std::string last_line = log.substr(0, log.size() - 1);
    last_line = last_line.substr(last_line.rfind('\n') + 1);
    CHECK(last_line.find("\"drain.flushed\"") != std::string::npos);
    const std::string shipped = lameduck::read_small_file(dir.file("shipped.log")).value().content;
    CHECK(shipped.find(last_line) != std::string::npos);
  }
}

TEST_CASE("prestop --hold-until-drained") {
  SUBCASE("a sidecar's hold returns once the agent's prestop has recorded its result") {
    TempDir dir;
    Process hold({tool_path("prestop"), "--hold-until-drained", "--state-dir", dir.file("state"), "--termination-id",
                  "t1", "--grace-period", "20s"});
    REQUIRE(hold.wait_for_event("hold.started", Deadline::after(10s)));
    CHECK(!hold.wait_exit(Deadline::after(100ms)));
    Process prestop(prestop_argv(dir, {"--drain-step", "exec:/bin/true"}), k_no_api);
    prestop.finish();
    CHECK(hold.wait_exit(Deadline::after(5s)) == 0);
    const auto done = hold.wait_for_event("hold.done", Deadline::after(1s));
    REQUIRE(done);
    CHECK(done->at("agent_outcome") == "gave_up"); // the endpoints phase fell back, without an API
  }
  SUBCASE("without the agent's result, it gives up at its own deadline") {
    TempDir dir;
    const auto started = Clock::now();
    const auto result = lameduck::test::run_process({tool_path("prestop"), "--hold-until-drained", "--state-dir",
                                                      dir.file("state"), "--termination-id", "t1", "--grace-period",
                                                      "1500ms", "--margin", "500ms"});
    CHECK(result.exit_code == 1);
    CHECK(result.stderr_text.find("hold.gave_up") != std::string::npos);
    CHECK(Clock::now() - started >= 700ms);
    CHECK(Clock::now() - started < 3s);
  }
}
