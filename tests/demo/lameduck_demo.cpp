// `./dev demo`: one pod of three stops under constant load on a simulated node (the kubelet's
// rules, the EndpointSlice controller, a kube-proxy that applies changes late), with the real
// prestop, readyz-toggle and demo agent as processes. Prints the timeline, prestop's phases,
// what the load saw and what the agent flushed, and the verdict. No cluster needed.

#include "lameduck/core/durable_file.hpp"
#include "lameduck/http/http_client.hpp"
#include "sim/service_proxy.hpp"
#include "sim/sim_cluster.hpp"

#include <cstdio>
#include <filesystem>
#include <set>

using namespace std::chrono_literals;
using namespace lameduck;

namespace {

constexpr auto k_propagation = 300ms;

std::string seconds(Duration duration) {
  char text[32];
  std::snprintf(text, sizeof text, "%+7.3fs", std::chrono::duration<double>(duration).count());
  return text;
}

} // namespace

int main() {
  std::string pattern = (std::filesystem::temp_directory_path() / "lameduck-demo-XXXXXX").string();
  const std::string dir = ::mkdtemp(pattern.data());

  sim::ClusterOptions options;
  options.state_dir = dir;
  options.task_time = 1500ms;
  options.agent_flags = {"--flush-time", "250ms"}; // writing the state takes a while, as on a real disk
  options.prestop_flags = {"--min-delay", "1s"};
  std::printf("lameduck demo: one pod of three stops under load.\n"
              "Simulated: the kubelet (preStop, SIGTERM, SIGKILL, readiness probes every %lld ms), the EndpointSlice\n"
              "controller, and a kube-proxy that applies changes %lld ms late. Real processes: prestop,\n"
              "readyz-toggle and the demo agent on 127.0.0.x, the API over TLS. Grace period %d s.\n\n",
              static_cast<long long>(to_ms(options.probe_period)), static_cast<long long>(to_ms(k_propagation)),
              options.grace_seconds);

  int exit_code = 0;
  {
    sim::SimCluster cluster(options);
    std::vector<sim::SimPod*> pods;
    for (int i = 0; i < 3; ++i) {
      pods.push_back(&cluster.add_pod("agent-" + std::to_string(i)));
    }
    sim::ServiceProxy proxy(cluster.api(), options.namespace_name, options.service, k_propagation);
    for (auto* pod : pods) {
      cluster.wait_ready(*pod, Deadline::after(10s));
      proxy.wait_routing(pod->ip(), true, Deadline::after(10s));
    }
    const auto load_started = Clock::now();
    sim::LoadGenerator load(proxy.url(), 10ms, "task-");
    sleep_within(1s, Deadline::after(1s));
    sim::SimPod& leaving = *pods.front();
    cluster.delete_pod(leaving);
    cluster.wait_gone(leaving, Deadline::after(60s));
    sleep_within(500ms, Deadline::after(500ms));
    const auto result = load.stop();

    // The timeline of the pod that left, from its deletion.
    const auto timeline = cluster.timeline();
    Duration deleted_offset{};
    for (const auto& entry : timeline) {
      if (entry.pod == leaving.name() && entry.what.rfind("deleted", 0) == 0) {
        deleted_offset = entry.at;
      }
    }
    std::printf("timeline of %s (from its deletion):\n", leaving.name().c_str());
    for (const auto& entry : timeline) {
      if (entry.pod == leaving.name() && entry.at >= deleted_offset) {
        std::printf("  %s  %s\n", seconds(entry.at - deleted_offset).c_str(), entry.what.c_str());
      }
    }

    const auto summary_text = read_small_file(dir + "/" + leaving.name() + "-termination-log");
    if (summary_text && !summary_text->missing) {
      const auto summary = nlohmann::json::parse(summary_text->content.substr(0, summary_text->content.find('\n')),
                                                 nullptr, false);
      std::printf("\nprestop's summary (its termination log): %s in %lld ms of a %lld ms budget\n",
                  summary.value("outcome", "?").c_str(), summary.value("ms", 0LL), summary.value("budgetMs", 0LL));
      for (const auto& phase : summary.value("phases", nlohmann::json::array())) {
        std::printf("  %-10s %-8s %6lld ms\n", phase.value("phase", "").c_str(), phase.value("outcome", "").c_str(),
                    phase.value("ms", 0LL));
      }
    }

    // Every task the load saw accepted must be in the leaving agent's flushed state or with a
    // pod still running.
    const auto flushed = read_small_file(leaving.state_file());
    int checkpointed = 0;
    int completed = 0;
    std::set<std::string> kept;
    if (flushed && !flushed->missing) {
      const auto state = nlohmann::json::parse(flushed->content, nullptr, false);
      const auto tasks = state.is_object() ? state.value("tasks", nlohmann::json::object()) : nlohmann::json::object();
      for (const auto& [id, task] : tasks.items()) {
        (task.value("status", "") == "completed" ? completed : checkpointed) += 1;
        kept.insert(id);
      }
    }
    for (auto* pod : pods) {
      if (pod->gone()) {
        continue;
      }
      HttpClient client(parse_url(pod->agent_url("/")).value());
      HttpRequest request;
      request.target = "/tasks";
      if (const auto answer = client.send(request, Deadline::after(5s))) {
        const auto state = nlohmann::json::parse(answer->body, nullptr, false);
        const auto tasks = state.is_object() ? state.value("tasks", nlohmann::json::object()) : nlohmann::json::object();
        for (const auto& [id, task] : tasks.items()) {
          kept.insert(id);
        }
      }
    }
    int lost = 0;
    for (const auto& id : result.accepted) {
      lost += kept.count(id) == 0 ? 1 : 0;
    }
    std::printf("\nload through the proxy: %d requests in %.1f s, %d failed\n", result.sent,
                std::chrono::duration<double>(Clock::now() - load_started).count(), result.failed);
    std::printf("%s flushed its state: %d tasks completed, %d in flight checkpointed (resumed when an agent\n"
                "reloads the state); tasks accepted but found nowhere: %d\n",
                leaving.name().c_str(), completed, checkpointed, lost);
    for (const auto& failure : result.failures) {
      std::printf("  failed: %s", failure.c_str());
    }
    const bool clean = result.failed == 0 && lost == 0 && leaving.ending() == "exited";
    std::printf("\nverdict: %s\n", clean ? "no request failed, no task lost, the kubelet never needed SIGKILL"
                                         : "the termination lost work (see above)");
    exit_code = clean ? 0 : 1;
  }
  if (std::getenv("LAMEDUCK_DEMO_KEEP") == nullptr) {
    std::filesystem::remove_all(dir);
  }
  return exit_code;
}
