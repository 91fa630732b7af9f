#pragma once

// A fake kube-apiserver on a loopback port, over TLS with a test CA, faithful enough that
// kubectl and python3-kubernetes accept it: discovery, pods and discovery.k8s.io/v1
// EndpointSlices with LIST (label selectors, limit/continue) and WATCH (from a
// resourceVersion, chunked JSON lines, bookmarks, timeoutSeconds, 410 for compacted versions),
// Status errors, bearer tokens with per-token permissions. Tests script object changes, the
// EndpointSlice controller's reaction to a pod's deletion, and faults.

#include "lameduck/core/deadline.hpp"
#include "lameduck/core/duration.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>

namespace lameduck::test {

enum class ApiFault {
  hang,            // accept, then say nothing
  reset,           // cut the connection in the middle of the answer
  truncated_json,  // a 200 whose JSON stops half-way
  gone,            // watch: an ERROR event with a 410 Status; list/get: a 410
  throttle,        // 429, plain text, Retry-After (as API Priority and Fairness sends it)
  server_error,    // 500 Status
  garbage,         // a 200 that is not JSON
  slow_drip,       // the right answer, one byte every 20 ms
};

class FakeApiServer {
public:
  static constexpr const char* k_token = "test-token";

  FakeApiServer();
  ~FakeApiServer();
  FakeApiServer(const FakeApiServer&) = delete;
  FakeApiServer& operator=(const FakeApiServer&) = delete;

  std::string url() const;
  int port() const;
  const std::string& ca_file() const;
  // A file holding k_token, for clients that read tokens from files.
  const std::string& token_file() const;

  // Accepts `token`, for the requests "verb resource" in `allowed` ("list endpointslices"),
  // or everything with "*". `user` is who the token says it is (as a 403 names it); empty: the
  // default service account of the namespace asked for.
  void allow_token(const std::string& token, std::set<std::string> allowed = {"*"}, std::string user = {});

  // Creates or replaces an object ("pods", "endpointslices", "events"); the namespace and
  // name come from its metadata. Returns the new resourceVersion.
  std::string put(const std::string& resource, nlohmann::json object);
  void remove(const std::string& resource, const std::string& namespace_name, const std::string& name);
  nlohmann::json object(const std::string& resource, const std::string& namespace_name, const std::string& name) const;
  // Forgets the history: a watch from any earlier resourceVersion gets 410.
  void compact();
  std::string resource_version() const;

  // The EndpointSlice controller's reaction to the deletion of a pod (podToEndpoint): after
  // `controller_delay`, each of its endpoints turns ready:false, serving:<was ready>,
  // terminating:true. The pod gets its deletionTimestamp at once.
  // Only the API's part of a deletion: deletionTimestamp (whole seconds) and
  // deletionGracePeriodSeconds. Returns the pod as it is now.
  nlohmann::json mark_deleted(const std::string& namespace_name, const std::string& name, int grace_seconds);
  // With `after`, all of it happens that long from now.
  void delete_pod(const std::string& namespace_name, const std::string& name, int grace_seconds,
                  Duration controller_delay, Duration after = Duration::zero());
  // Called with the namespace of every WATCH request, as it arrives.
  void on_watch(std::function<void(const std::string& namespace_name)> hook);
  // Sets the conditions of the pod's endpoints in every slice that lists it.
  void set_pod_endpoints(const std::string& pod_uid, bool ready, bool serving, bool terminating);

  // The next `times` requests with this verb (get, list, watch, create) fail this way.
  void inject(const std::string& verb, ApiFault fault, int times = 1, int retry_after_seconds = 1);
  // Requests served so far, by verb.
  int requests(const std::string& verb) const;
  // Blocks until `count` requests with this verb have arrived; false at the deadline.
  bool wait_for_requests(const std::string& verb, int count, const Deadline& deadline) const;
  // The most watches that were open at the same time.
  int peak_watches() const;
  // Sends BOOKMARK events this often on watches that asked for them (0: only at the end).
  void set_bookmark_interval(Duration interval);

private:
  struct State;
  std::unique_ptr<State> m_state;
};

} // namespace lameduck::test
