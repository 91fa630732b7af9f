// What lameduck costs a pod to carry, beside the references it names, measured in one run:
//  - the static tools' sizes;
//  - `readyz-toggle serve`, beside the server it replaced (the thread-pool server of commit
//    0c38cf9, built by ./dev bench into build/bench-baseline/) and nginx answering a static 200
//    from memory: resident memory and threads idle, CPU time and wake-ups (context switches)
//    over 10 idle seconds; under attack (500 clients dripping a request head one byte every
//    0.5 s and reopening each dropped connection, 100 sending garbage), the latency of a probe
//    every 100 ms for 10 s and the resident memory; under wrk (2 threads, 10 and 50 keep-alive
//    connections) on this machine's 2 cores, requests per second and p99 latency;
//  - start-up: from fork to the first request bytes at a listening socket, for
//    `readyz-toggle status` and for curl sending the same request.
// Writes footprint.json to the output directory.
//
//   footprint [OUTPUT_DIR [BASELINE_READYZ_TOGGLE]]      (./dev bench; needs wrk, nginx and curl)

#include "support/pests.hpp"
#include "support/process.hpp"
#include "support/readyz_process.hpp"
#include "support/sockets.hpp"
#include "support/temp_dir.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <poll.h>
#include <regex>
#include <sys/syscall.h>
#include <thread>
#include <unistd.h>

using namespace std::chrono_literals;
using namespace lameduck;

namespace {

// A process and its children (nginx's master and its worker).
std::vector<pid_t> process_tree(pid_t pid) {
  std::vector<pid_t> tree{pid};
  std::ifstream children("/proc/" + std::to_string(pid) + "/task/" + std::to_string(pid) + "/children");
  for (pid_t child = 0; children >> child;) {
    tree.push_back(child);
  }
  return tree;
}

// A field of /proc/PID/status, in its unit (kB for memory).
long long proc_status(pid_t pid, const std::string& field) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);) {
    if (line.starts_with(field + ":")) {
      return std::stoll(line.substr(field.size() + 1));
    }
  }
  return -1;
}

// utime + stime of a process, in clock ticks (/proc/PID/stat fields 14 and 15).
long long cpu_ticks(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  std::istringstream fields(text.substr(text.rfind(')') + 2));
  std::string field;
  long long utime = 0;
  long long stime = 0;
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    utime = i == 14 ? std::stoll(field) : utime;
    stime = i == 15 ? std::stoll(field) : stime;
  }
  return utime + stime;
}

// Every thread's context switches: each is a wake-up.
long long context_switches(pid_t pid) {
  long long total = 0;
  for (const auto& task : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task")) {
    std::ifstream status(task.path() / "status");
    for (std::string line; std::getline(status, line);) {
      if (line.find("ctxt_switches:") != std::string::npos) {
        total += std::stoll(line.substr(line.find(':') + 1));
      }
    }
  }
  return total;
}

long long tree_status(pid_t pid, const std::string& field) {
  long long total = 0;
  for (const pid_t member : process_tree(pid)) {
    total += proc_status(member, field);
  }
  return total;
}

long long tree_cpu_ticks(pid_t pid) {
  long long total = 0;
  for (const pid_t member : process_tree(pid)) {
    total += cpu_ticks(member);
  }
  return total;
}

long long tree_context_switches(pid_t pid) {
  long long total = 0;
  for (const pid_t member : process_tree(pid)) {
    total += context_switches(member);
  }
  return total;
}

struct Load {
  double requests_per_second = 0;
  double p99_ms = 0;
};

double wrk_ms(const std::string& value, const std::string& unit) {
  const double number = std::stod(value);
  return unit == "us" ? number / 1000 : unit == "s" ? number * 1000 : number;
}

Load run_wrk(const std::string& url, int connections) {
  const auto result = test::run_process(
      {"/usr/bin/wrk", "-t2", "-c" + std::to_string(connections), "-d5s", "--latency", url}, {}, 30s);
  Load load;
  std::smatch match;
  if (std::regex_search(result.stdout_text, match, std::regex(R"(Requests/sec:\s+([\d.]+))"))) {
    load.requests_per_second = std::stod(match[1]);
  }
  if (std::regex_search(result.stdout_text, match, std::regex(R"(99%\s+([\d.]+)(us|ms|s))"))) {
    load.p99_ms = wrk_ms(match[1], match[2]);
  }
  if (load.requests_per_second == 0) {
    std::fprintf(stderr, "wrk: %s%s\n", result.stdout_text.c_str(), result.stderr_text.c_str());
    std::exit(1);
  }
  return load;
}

// nginx answering `return 200` from memory, as small and as fast a /readyz as there is.
class Nginx {
public:
  Nginx() : m_port(test::closed_port()) {
    std::ofstream(m_dir.file("nginx.conf"))
        << "daemon off; worker_processes 1; pid " << m_dir.file("nginx.pid") << "; error_log stderr notice;\n"
        << "worker_rlimit_nofile 4096; events { worker_connections 2048; }\n"
        << "http { access_log off; client_body_temp_path " << m_dir.file("body") << "; proxy_temp_path "
        << m_dir.file("proxy") << "; fastcgi_temp_path " << m_dir.file("fastcgi") << "; uwsgi_temp_path "
        << m_dir.file("uwsgi") << "; scgi_temp_path " << m_dir.file("scgi") << ";\n"
        << "  server { listen 127.0.0.1:" << m_port << "; location /readyz { return 200 \"ok\\n\"; } } }\n";
    m_process = std::make_unique<test::Process>(
        std::vector<std::string>{"/usr/sbin/nginx", "-e", "stderr", "-p", m_dir.path().string(), "-c", m_dir.file("nginx.conf")});
    // The master process binds before it starts its worker, which then accepts.
    if (!m_process->wait_for_stderr_containing("start worker process", Deadline::after(10s))) {
      std::fprintf(stderr, "nginx did not start: %s\n", m_process->stderr_text().c_str());
      std::exit(1);
    }
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(m_port) + "/readyz"; }
  int port() const { return m_port; }
  pid_t pid() const { return m_process->pid(); }

private:
  test::TempDir m_dir;
  int m_port;
  std::unique_ptr<test::Process> m_process;
};

// Milliseconds from fork to the first request bytes at a fresh listening socket, median of `runs`.
double start_up_ms(const std::function<std::vector<std::string>(int port)>& command, int runs) {
  std::vector<double> samples;
  for (int i = 0; i < runs; ++i) {
    const test::LoopbackListener listener;
    const auto started = Clock::now();
    test::Process child(command(listener.port()));
    const int connection = listener.accept(Deadline::after(5s));
    char byte = 0;
    (void)::read(connection, &byte, 1);
    samples.push_back(std::chrono::duration<double, std::milli>(Clock::now() - started).count());
    ::close(connection);
    child.finish(5s);
  }
  std::sort(samples.begin(), samples.end());
  return samples[samples.size() / 2];
}

struct Server {
  std::string name;
  pid_t pid = 0;
  int port = 0;
  std::string url; // of /readyz
};

struct Attack {
  int asked = 0;
  int answered_within_1s = 0;
  double p50_ms = 0;
  double p99_ms = 0;
  long long rss_kb = 0;
};

// The attack of the integration test, held while a prober asks /readyz every 100 ms for 10 s;
// a probe not answered within the kubelet's 1 s counts as 1 s.
Attack under_attack(const Server& server) {
  test::Pests pests(server.port, {.slow_clients = 500, .garbage_clients = 100});
  pests.wait_until_opened(600, Deadline::after(10s));
  Attack attack;
  std::vector<double> latencies;
  const auto start = Clock::now();
  for (int i = 0; i < 100; ++i) {
    std::this_thread::sleep_until(start + i * 100ms);
    const auto asked = Clock::now();
    const auto answer = test::raw_http_exchange(
        "127.0.0.1", server.port,
        "GET /readyz HTTP/1.1\r\nHost: 10.0.0.7:7979\r\nUser-Agent: kube-probe/1.32\r\nConnection: close\r\n\r\n",
        Deadline::after(1s));
    const double ms = std::chrono::duration<double, std::milli>(Clock::now() - asked).count();
    ++attack.asked;
    const bool answered = test::raw_http_status(answer) == 200 && ms < 1000;
    attack.answered_within_1s += answered ? 1 : 0;
    latencies.push_back(answered ? ms : 1000.0);
  }
  attack.rss_kb = tree_status(server.pid, "VmRSS");
  std::sort(latencies.begin(), latencies.end());
  attack.p50_ms = latencies[latencies.size() / 2];
  attack.p99_ms = latencies[latencies.size() * 99 / 100];
  return attack;
}

// Watches the server for `window` and returns true when it is still running at the end: an
// idle window is a wait on the server's exit that must time out, so a server that dies while
// idle fails the benchmark instead of being measured.
bool alive_throughout(pid_t pid, std::chrono::milliseconds window) {
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0) {
    return false;
  }
  pollfd exited{pidfd, POLLIN, 0};
  int ready = 0;
  const auto deadline = Deadline::after(window);
  do {
    ready = ::poll(&exited, 1, static_cast<int>(to_ms(deadline.remaining())));
  } while (ready < 0 && errno == EINTR);
  ::close(pidfd);
  return ready == 0;
}

nlohmann::json measure(const Server& server) {
  // Serving (it answers the kubelet's first probe), then left alone for 10 s, which it must
  // survive without a wake-up.
  test::raw_http_exchange("127.0.0.1", server.port, "GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                          Deadline::after(1s));
  // The end of that exchange (the client's FIN, a worker going back to wait) still wakes the
  // server once or twice after the answer has arrived: the idle count starts when those are
  // over, that is when its context switches have held still for 300 ms (at most 5 s).
  const auto settled_by = Clock::now() + 5s;
  for (long long last = -1, now = tree_context_switches(server.pid); now != last && Clock::now() < settled_by;) {
    if (!alive_throughout(server.pid, 300ms)) {
      std::fprintf(stderr, "%s exited while idle\n", server.name.c_str());
      std::exit(1);
    }
    last = now;
    now = tree_context_switches(server.pid);
  }
  const long long idle_rss = tree_status(server.pid, "VmRSS");
  const long long idle_threads = tree_status(server.pid, "Threads");
  const long long ticks_before = tree_cpu_ticks(server.pid);
  const long long switches_before = tree_context_switches(server.pid);
  if (!alive_throughout(server.pid, 10s)) {
    std::fprintf(stderr, "%s exited while idle\n", server.name.c_str());
    std::exit(1);
  }
  const long long idle_ticks = tree_cpu_ticks(server.pid) - ticks_before;
  const long long idle_switches = tree_context_switches(server.pid) - switches_before;

  const Attack attack = under_attack(server);
  const Load ten = run_wrk(server.url, 10);
  const Load fifty = run_wrk(server.url, 50);
  return {{"idleRssKb", idle_rss},
          {"idleThreads", idle_threads},
          {"idleCpuTicks10s", idle_ticks},
          {"idleWakeups10s", idle_switches},
          {"attack",
           {{"probes", attack.asked},
            {"answeredWithin1s", attack.answered_within_1s},
            {"p50Ms", attack.p50_ms},
            {"p99Ms", attack.p99_ms},
            {"rssKb", attack.rss_kb}}},
          {"wrk10", {{"requestsPerSecond", ten.requests_per_second}, {"p99Ms", ten.p99_ms}}},
          {"wrk50", {{"requestsPerSecond", fifty.requests_per_second}, {"p99Ms", fifty.p99_ms}}}};
}

void print_row(const char* label, const std::vector<std::string>& names, const nlohmann::json& results,
               const std::function<std::string(const nlohmann::json&)>& cell) {
  std::printf("%-36s", label);
  for (const auto& name : names) {
    std::printf(" %16s", cell(results[name]).c_str());
  }
  std::printf("\n");
}

std::string number(double value, int decimals = 0) {
  char text[32];
  std::snprintf(text, sizeof text, "%.*f", decimals, value);
  return text;
}

} // namespace

int main(int argc, char* argv[]) {
  const std::string output = argc > 1 ? argv[1] : ".";
  const std::string baseline = argc > 2 ? argv[2] : "";
  nlohmann::json results;

  std::printf("Footprint\n\n%-34s %14s\n", "static tool", "bytes");
  for (const char* tool : {"prestop", "readyz-toggle", "drain-wait"}) {
    const auto size = std::filesystem::file_size(test::tool_path(tool));
    std::printf("%-34s %14ju\n", tool, static_cast<std::uintmax_t>(size));
    results["sizeBytes"][tool] = size;
  }
  if (!baseline.empty()) {
    const auto size = std::filesystem::file_size(baseline);
    std::printf("%-34s %14ju\n", "baseline: readyz-toggle 0c38cf9", static_cast<std::uintmax_t>(size));
    results["sizeBytes"]["readyz-toggle-0c38cf9"] = size;
  }

  std::vector<std::string> names;
  nlohmann::json servers;
  {
    test::ReadyzProcess readyz;
    names.emplace_back("readyz-toggle");
    servers["readyz-toggle"] = measure({"readyz-toggle", readyz.process().pid(), readyz.port(), readyz.url() + "/readyz"});
  }
  if (!baseline.empty()) {
    test::Process old({baseline, "serve", "--listen", "127.0.0.1:0"});
    const auto listening = old.wait_for_event("serve.listening", Deadline::after(10s));
    if (!listening) {
      std::fprintf(stderr, "the baseline readyz-toggle did not start: %s\n", old.stderr_text().c_str());
      return 1;
    }
    const int port = listening->at("port").get<int>();
    names.emplace_back("0c38cf9 (threads)");
    servers[names.back()] = measure({names.back(), old.pid(), port, "http://127.0.0.1:" + std::to_string(port) + "/readyz"});
  }
  {
    const Nginx nginx;
    names.emplace_back("nginx");
    servers["nginx"] = measure({"nginx", nginx.pid(), nginx.port(), nginx.url()});
  }

  std::printf("\n%-36s", "GET /readyz served by");
  for (const auto& name : names) {
    std::printf(" %16s", name.c_str());
  }
  std::printf("\n");
  print_row("idle RSS (kB)", names, servers, [](const auto& r) { return number(r["idleRssKb"].template get<double>()); });
  print_row("idle threads", names, servers, [](const auto& r) { return number(r["idleThreads"].template get<double>()); });
  print_row("wake-ups in 10 idle s", names, servers,
            [](const auto& r) { return number(r["idleWakeups10s"].template get<double>()); });
  print_row("CPU ticks in 10 idle s", names, servers,
            [](const auto& r) { return number(r["idleCpuTicks10s"].template get<double>()); });
  print_row("attack: probes answered < 1 s", names, servers, [](const auto& r) {
    return number(r["attack"]["answeredWithin1s"].template get<double>()) + "/" +
           number(r["attack"]["probes"].template get<double>());
  });
  print_row("attack: probe p50 ms", names, servers,
            [](const auto& r) { return number(r["attack"]["p50Ms"].template get<double>(), 2); });
  print_row("attack: probe p99 ms", names, servers,
            [](const auto& r) { return number(r["attack"]["p99Ms"].template get<double>(), 2); });
  print_row("attack: RSS (kB)", names, servers, [](const auto& r) { return number(r["attack"]["rssKb"].template get<double>()); });
  for (const char* key : {"wrk10", "wrk50"}) {
    const std::string connections = std::string(key).substr(3);
    print_row(("wrk -c" + connections + ": requests/s").c_str(), names, servers,
              [key](const auto& r) { return number(r[key]["requestsPerSecond"].template get<double>()); });
    print_row(("wrk -c" + connections + ": p99 ms").c_str(), names, servers,
              [key](const auto& r) { return number(r[key]["p99Ms"].template get<double>(), 2); });
  }
  results["readyzServers"] = servers;

  const int runs = 20;
  const double ours = start_up_ms(
      [](int port) {
        return std::vector<std::string>{test::tool_path("readyz-toggle"), "status", "--url",
                                        "http://127.0.0.1:" + std::to_string(port), "--timeout", "1s"};
      },
      runs);
  const double curl = start_up_ms(
      [](int port) {
        return std::vector<std::string>{"/usr/bin/curl", "-s", "-m", "1", "http://127.0.0.1:" + std::to_string(port) + "/readyz/state"};
      },
      runs);
  std::printf("\n%-34s %14s\n", "fork to first request byte", "median ms");
  std::printf("%-34s %14.2f\n", "readyz-toggle status", ours);
  std::printf("%-34s %14.2f\n", "baseline: curl", curl);
  std::printf("%-34s %14.2f\n", "readyz-toggle / curl", ours / curl);
  results["startUp"] = {{"runs", runs}, {"readyzToggleMs", ours}, {"curlMs", curl}};

  std::ofstream(output + "/footprint.json") << results.dump(2) << "\n";
  return 0;
}
