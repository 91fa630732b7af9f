// What lameduck costs a pod to carry, beside the references it names, measured in one run:
//  - the static tools' sizes;
//  - readyz-toggle serve: resident memory idle and under load, CPU time and wake-ups (context
//    switches) over 10 idle seconds;
//  - /readyz under wrk (2 threads; 10 keep-alive connections, a handful of probers, and 50,
//    more than readyz-toggle's 16 workers, so the rest queue), on this machine's 2 cores:
//    requests per second and p99 latency, beside nginx answering a static 200 from memory;
//  - start-up: from fork to the first request bytes at a listening socket, for
//    `readyz-toggle status` and for curl sending the same request.
// Writes footprint.json to the output directory.
//
//   footprint [OUTPUT_DIR]      (./dev bench; needs wrk, nginx and curl)

#include "support/process.hpp"
#include "support/readyz_process.hpp"
#include "support/sockets.hpp"
#include "support/temp_dir.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <unistd.h>

using namespace std::chrono_literals;
using namespace lameduck;

namespace {

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
        << "events { worker_connections 1024; }\n"
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

} // namespace

int main(int argc, char* argv[]) {
  const std::string output = argc > 1 ? argv[1] : ".";
  nlohmann::json results;

  std::printf("Footprint\n\n%-34s %14s\n", "static tool", "bytes");
  for (const char* tool : {"prestop", "readyz-toggle", "drain-wait"}) {
    const auto size = std::filesystem::file_size(test::tool_path(tool));
    std::printf("%-34s %14ju\n", tool, static_cast<std::uintmax_t>(size));
    results["sizeBytes"][tool] = size;
  }

  test::ReadyzProcess readyz;
  const pid_t pid = readyz.process().pid();
  // Serving (it answers the kubelet's first probe), then left alone for 10 s, which it must
  // survive without a wake-up.
  test::raw_http_exchange("127.0.0.1", readyz.port(), "GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                          Deadline::after(1s));
  const long long idle_rss = proc_status(pid, "VmRSS");
  const long long ticks_before = cpu_ticks(pid);
  const long long switches_before = context_switches(pid);
  if (readyz.process().wait_exit(Deadline::after(10s))) {
    std::fprintf(stderr, "readyz-toggle exited while idle: %s\n", readyz.process().stderr_text().c_str());
    return 1;
  }
  const long long idle_ticks = cpu_ticks(pid) - ticks_before;
  const long long idle_switches = context_switches(pid) - switches_before;

  std::vector<std::pair<Load, Load>> loads; // readyz-toggle, nginx
  const Nginx nginx;
  for (const int connections : {10, 50}) {
    loads.emplace_back(run_wrk(readyz.url() + "/readyz", connections), run_wrk(nginx.url(), connections));
  }
  const long long loaded_rss = proc_status(pid, "VmHWM");

  std::printf("\nreadyz-toggle serve, idle and under wrk\n");
  std::printf("%-34s %14lld\n", "idle RSS (kB)", idle_rss);
  std::printf("%-34s %14lld\n", "peak RSS under load (kB)", loaded_rss);
  std::printf("%-34s %14lld\n", "CPU ticks in 10 idle s", idle_ticks);
  std::printf("%-34s %14lld\n", "wake-ups in 10 idle s", idle_switches);
  results["readyzToggle"] = {{"idleRssKb", idle_rss}, {"peakRssUnderLoadKb", loaded_rss},
                             {"idleCpuTicks10s", idle_ticks}, {"idleWakeups10s", idle_switches}};
  std::printf("\n%-34s %14s %10s\n", "GET /readyz, wrk -t2 -d5s", "requests/s", "p99 ms");
  for (std::size_t i = 0; i < loads.size(); ++i) {
    const int connections = i == 0 ? 10 : 50;
    const auto& [ours, reference] = loads[i];
    const std::string suffix = " (" + std::to_string(connections) + " conns)";
    std::printf("%-34s %14.0f %10.2f\n", ("readyz-toggle" + suffix).c_str(), ours.requests_per_second, ours.p99_ms);
    std::printf("%-34s %14.0f %10.2f\n", ("baseline: nginx return 200" + suffix).c_str(), reference.requests_per_second,
                reference.p99_ms);
    std::printf("%-34s %14.2f\n", "  readyz-toggle / nginx", ours.requests_per_second / reference.requests_per_second);
    results["readyzLoad"].push_back({{"connections", connections},
                                     {"readyzToggle", {{"requestsPerSecond", ours.requests_per_second}, {"p99Ms", ours.p99_ms}}},
                                     {"nginx", {{"requestsPerSecond", reference.requests_per_second}, {"p99Ms", reference.p99_ms}}}});
  }

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
