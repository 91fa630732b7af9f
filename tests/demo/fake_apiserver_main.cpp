// The fake kube-apiserver as a process of its own, for real clients (kubectl,
// python3-kubernetes) and for the demo. Loads the recorded API documents of a fixtures
// directory, twice: as recorded in namespace "payments", and in namespace "clean" without the
// slices whose endpoints are null (which a real apiserver serves, but python3-kubernetes
// refuses). Logs where it listens and how to authenticate, then serves until SIGTERM.
//
//   fake-apiserver --fixtures tests/fixtures/k8s [--delete-pod-on-watch 200ms]
//
// With --delete-pod-on-watch, the first WATCH in a namespace deletes the recorded pod there
// that long after, and the EndpointSlice controller's reaction follows at once: a client's
// watch then sees the change, however slowly the client started.

#include "cli/cli.hpp"
#include "lameduck/core/durable_file.hpp"
#include "lameduck/core/signals.hpp"
#include "support/fake_apiserver.hpp"

#include <mutex>
#include <set>

int main(int argc, char* argv[]) {
  using namespace lameduck;
  std::string fixtures;
  std::optional<Duration> delete_pod_on_watch;
  const auto app = cli::make_app("fake-apiserver", "A fake kube-apiserver over TLS, for tests and the demo.");
  app->add_option("--fixtures", fixtures, "Directory of recorded API documents")->required()->type_name("DIR");
  app->add_option_function<std::string>(
         "--delete-pod-on-watch", [&](const std::string& text) { delete_pod_on_watch = parse_duration(text).value(); },
         "Delete the recorded pod this long after the first watch of its namespace")
      ->check(cli::duration_validator())
      ->type_name("DURATION");
  if (const auto exit_now = cli::parse(*app, argc, argv)) {
    return *exit_now;
  }
  const Logger logger("fake-apiserver");
  const ShutdownSignals signals;
  test::FakeApiServer api;

  const auto load = [&fixtures](const std::string& name) {
    return nlohmann::json::parse(read_small_file(fixtures + "/" + name).value().content);
  };
  auto slices = load("endpointslice-list.json");
  auto pod = load("pod-terminating.json");
  for (const std::string namespace_name : {"payments", "clean"}) {
    for (auto slice : slices["items"]) {
      if (namespace_name == "clean" && slice["endpoints"].is_null()) {
        continue;
      }
      slice["metadata"]["namespace"] = namespace_name;
      api.put("endpointslices", slice);
    }
    pod["metadata"]["namespace"] = namespace_name;
    api.put("pods", pod);
  }

  logger.info("apiserver.listening", "serving the recorded documents",
              {{"url", api.url()}, {"port", api.port()}, {"ca_file", api.ca_file()},
               {"bearer", test::FakeApiServer::k_token}});
  std::set<std::string> deleted_in;
  std::mutex deleting;
  const std::string pod_name = pod["metadata"]["name"];
  if (delete_pod_on_watch) {
    api.on_watch([&](const std::string& namespace_name) {
      const std::lock_guard lock(deleting);
      if (deleted_in.insert(namespace_name).second) {
        api.delete_pod(namespace_name, pod_name, 30, Duration::zero(), *delete_pod_on_watch);
      }
    });
  }
  signals.wait();
  return 0;
}
