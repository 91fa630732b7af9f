#include "support/fake_apiserver.hpp"

#include "lameduck/core/durable_file.hpp"
#include "lameduck/core/rfc3339.hpp"
#include "support/test_tls.hpp"

#include <httplib.h>

#include <condition_variable>
#include <deque>
#include <filesystem>
#include <mutex>
#include <thread>
#include <vector>

namespace lameduck::test {

namespace {

struct Kind {
  const char* kind;
  const char* api_version;
};

const std::map<std::string, Kind> k_kinds{
    {"pods", {"Pod", "v1"}},
    {"endpointslices", {"EndpointSlice", "discovery.k8s.io/v1"}},
    {"events", {"Event", "v1"}},
};

nlohmann::json status_object(int code, const std::string& reason, const std::string& message,
                             const nlohmann::json& details = nullptr) {
  nlohmann::json status = {{"kind", "Status"}, {"apiVersion", "v1"}, {"metadata", nlohmann::json::object()},
                           {"status", "Failure"}, {"message", message}, {"reason", reason}, {"code", code}};
  if (!details.is_null()) {
    status["details"] = details;
  }
  return status;
}

void send_status(httplib::Response& response, int code, const std::string& reason, const std::string& message,
                 const nlohmann::json& details = nullptr) {
  response.status = code;
  response.set_content(status_object(code, reason, message, details).dump() + "\n", "application/json");
}

std::string group_of(const std::string& resource) {
  return resource == "endpointslices" ? "discovery.k8s.io" : "";
}

// What the apiserver's errors name: "endpointslices.discovery.k8s.io", or "pods" for the core group.
std::string qualified(const std::string& resource) {
  const std::string group = group_of(resource);
  return group.empty() ? resource : resource + "." + group;
}

// StatusDetails as the apiserver fills them: the object's name when there is one, its group
// unless it is the core group, and the resource as "kind".
nlohmann::json status_details(const std::string& resource, const std::string& name) {
  nlohmann::json details = nlohmann::json::object();
  if (!name.empty()) {
    details["name"] = name;
  }
  if (!group_of(resource).empty()) {
    details["group"] = group_of(resource);
  }
  details["kind"] = resource;
  return details;
}

// Go's strconv.ParseBool, which the apiserver uses for query booleans.
bool parse_go_bool(const std::string& text) {
  return text == "1" || text == "t" || text == "T" || text == "true" || text == "TRUE" || text == "True";
}

// Label selectors as the apiserver parses them: requirements joined by commas, each
// "k=v", "k==v", "k!=v", "k in (a,b)", "k notin (a,b)", "k" or "!k".
class LabelSelector {
public:
  explicit LabelSelector(const std::string& text) {
    std::string current;
    int depth = 0;
    for (const char c : text + ",") {
      if (c == ',' && depth == 0) {
        if (current.find_first_not_of(' ') != std::string::npos) {
          m_requirements.push_back(trim(current));
        }
        current.clear();
        continue;
      }
      depth += c == '(' ? 1 : c == ')' ? -1 : 0;
      current += c;
    }
  }

  bool matches(const nlohmann::json& labels) const {
    for (const auto& requirement : m_requirements) {
      if (!matches_one(requirement, labels)) {
        return false;
      }
    }
    return true;
  }

private:
  static std::string trim(const std::string& text) {
    const auto start = text.find_first_not_of(' ');
    const auto end = text.find_last_not_of(' ');
    return start == std::string::npos ? "" : text.substr(start, end - start + 1);
  }
  static std::set<std::string> values_in_parens(const std::string& text) {
    std::set<std::string> values;
    const auto open = text.find('(');
    const auto close = text.rfind(')');
    std::string current;
    for (const char c : text.substr(open + 1, close - open - 1) + ",") {
      if (c == ',') {
        values.insert(trim(current));
        current.clear();
      } else {
        current += c;
      }
    }
    return values;
  }
  static bool matches_one(const std::string& requirement, const nlohmann::json& labels) {
    const auto value_of = [&labels](const std::string& key) -> std::optional<std::string> {
      if (labels.is_object() && labels.contains(key) && labels[key].is_string()) {
        return labels[key].get<std::string>();
      }
      return std::nullopt;
    };
    if (const auto at = requirement.find(" notin "); at != std::string::npos) {
      const auto value = value_of(trim(requirement.substr(0, at)));
      return !value || values_in_parens(requirement).count(*value) == 0;
    }
    if (const auto at = requirement.find(" in "); at != std::string::npos) {
      const auto value = value_of(trim(requirement.substr(0, at)));
      return value && values_in_parens(requirement).count(*value) == 1;
    }
    if (const auto at = requirement.find("!="); at != std::string::npos) {
      return value_of(trim(requirement.substr(0, at))) != trim(requirement.substr(at + 2));
    }
    if (const auto at = requirement.find('='); at != std::string::npos) {
      const auto value_start = requirement[at + 1] == '=' ? at + 2 : at + 1;
      return value_of(trim(requirement.substr(0, at))) == trim(requirement.substr(value_start));
    }
    if (requirement.front() == '!') {
      return !value_of(trim(requirement.substr(1)));
    }
    return value_of(requirement).has_value();
  }
  std::vector<std::string> m_requirements;
};

struct HistoryEvent {
  long long resource_version;
  std::string resource;
  std::string type;
  nlohmann::json object;
};

struct PendingFault {
  ApiFault fault;
  int retry_after_seconds;
};

std::string key_of(const std::string& namespace_name, const std::string& name) {
  return namespace_name + "/" + name;
}

} // namespace

struct FakeApiServer::State {
  State()
      : server(test_certificates().cert_file.c_str(), test_certificates().key_file.c_str()) {}

  mutable std::mutex mutex;
  std::condition_variable changed;
  bool stopping = false;
  long long resource_version = 1000;
  long long compacted = 0;
  std::map<std::string, std::map<std::string, nlohmann::json>> objects;
  std::vector<HistoryEvent> history;
  struct TokenGrant {
    std::set<std::string> permissions;
    std::string user; // empty: the default service account of the request's namespace
  };
  std::map<std::string, TokenGrant> tokens;
  std::map<std::string, std::deque<PendingFault>> faults;
  std::map<std::string, int> requests;
  int open_watches = 0;
  int peak_watches = 0;
  Duration bookmark_interval{0};
  // The controllers' reactions, by when they are due, run by one thread: a later change is
  // never overtaken by an earlier one, as it could be with a thread per change. Equal times
  // run in the order they were scheduled (multimap keeps insertion order among equal keys).
  std::multimap<Clock::time_point, std::function<void()>> scheduled;
  std::thread controller;
  std::function<void(const std::string&)> watch_hook;

  httplib::SSLServer server;
  std::thread serving;
  int port = 0;
  std::string token_dir;
  std::string token_file;

  // Under the mutex.
  std::string put_locked(const std::string& resource, nlohmann::json object) {
    auto& metadata = object["metadata"];
    const std::string key = key_of(metadata.value("namespace", ""), metadata.value("name", ""));
    auto& collection = objects[resource];
    const bool existed = collection.count(key) == 1;
    metadata["resourceVersion"] = std::to_string(++resource_version);
    if (!metadata.contains("uid")) {
      metadata["uid"] = "uid-" + std::to_string(resource_version);
    }
    if (!metadata.contains("creationTimestamp")) {
      metadata["creationTimestamp"] = "2026-11-23T10:00:00Z";
    }
    // Every write to an EndpointSlice is a new generation (it has no status subresource); other
    // kinds start at 1 here.
    if (existed && resource == "endpointslices") {
      metadata["generation"] = collection[key]["metadata"].value("generation", 0) + 1;
    } else if (!metadata.contains("generation")) {
      metadata["generation"] = 1;
    }
    object.erase("kind");
    object.erase("apiVersion");
    collection[key] = object;
    history.push_back({resource_version, resource, existed ? "MODIFIED" : "ADDED", object});
    changed.notify_all();
    return std::to_string(resource_version);
  }

  void schedule(Duration after, std::function<void()> action) {
    const std::lock_guard lock(mutex);
    scheduled.emplace(Clock::now() + after, std::move(action));
    changed.notify_all();
  }

  void run_controllers() {
    std::unique_lock lock(mutex);
    while (!stopping) {
      if (scheduled.empty()) {
        changed.wait(lock);
        continue;
      }
      const auto next = scheduled.begin();
      if (Clock::now() < next->first) {
        changed.wait_until(lock, next->first);
        continue;
      }
      auto action = std::move(next->second);
      scheduled.erase(next);
      lock.unlock();
      action();
      lock.lock();
    }
  }

  // The fault waiting for this verb, if any.
  std::optional<PendingFault> take_fault(const std::string& verb) {
    const std::lock_guard lock(mutex);
    ++requests[verb];
    changed.notify_all();
    auto& queue = faults[verb];
    if (queue.empty()) {
      return std::nullopt;
    }
    const auto fault = queue.front();
    queue.pop_front();
    return fault;
  }

  // 401 or 403 as the apiserver words them; true when the request may go on.
  bool authorize(const httplib::Request& request, httplib::Response& response, const std::string& verb,
                 const std::string& resource, const std::string& namespace_name, const std::string& name = {}) {
    const std::string header = request.get_header_value("Authorization");
    const std::string token = header.rfind("Bearer ", 0) == 0 ? header.substr(7) : "";
    const std::lock_guard lock(mutex);
    const auto allowed = tokens.find(token);
    if (allowed == tokens.end()) {
      send_status(response, 401, "Unauthorized", "Unauthorized");
      return false;
    }
    if (allowed->second.permissions.count("*") == 0 && allowed->second.permissions.count(verb + " " + resource) == 0) {
      // Without a user of its own, the token is the default service account of the namespace.
      const std::string user = allowed->second.user.empty()
                                   ? "system:serviceaccount:" + namespace_name + ":default"
                                   : allowed->second.user;
      send_status(response, 403, "Forbidden",
                  qualified(resource) + (name.empty() ? "" : " \"" + name + "\"") + " is forbidden: User \"" + user +
                      "\" cannot " + verb + " resource \"" + resource + "\" in API group \"" + group_of(resource) +
                      "\" in the namespace \"" + namespace_name + "\"",
                  status_details(resource, name));
      return false;
    }
    return true;
  }

  // Answers with `fault` instead of the real answer; false when the fault is for the stream
  // itself (watch faults and slow drips are written by the stream).
  bool answer_fault(const PendingFault& pending, httplib::Response& response, const std::string& good_body) {
    switch (pending.fault) {
    case ApiFault::hang: {
      std::unique_lock lock(mutex);
      changed.wait_for(lock, std::chrono::seconds{60}, [this] { return stopping; });
      response.status = 500;
      return true;
    }
    case ApiFault::throttle:
      response.status = 429;
      response.set_header("Retry-After", std::to_string(pending.retry_after_seconds));
      response.set_content("Too many requests, please try again later.\n", "text/plain; charset=utf-8");
      return true;
    case ApiFault::server_error:
      send_status(response, 500, "InternalError", "Internal error occurred: etcdserver: request timed out");
      return true;
    case ApiFault::gone:
      send_status(response, 410, "Expired", "The provided continue parameter is too old");
      return true;
    case ApiFault::garbage:
      response.set_content(std::string("\x00\x01<html>not json", 16), "application/json");
      return true;
    case ApiFault::truncated_json:
      response.set_content(good_body.substr(0, good_body.size() / 2), "application/json");
      return true;
    case ApiFault::reset: {
      const std::string half = good_body.substr(0, good_body.size() / 2);
      response.set_content_provider(good_body.size(), "application/json",
                                    [half](std::size_t offset, std::size_t, httplib::DataSink& sink) {
                                      if (offset == 0) {
                                        sink.write(half.data(), half.size());
                                      }
                                      return false; // the connection is cut here
                                    });
      return true;
    }
    case ApiFault::slow_drip: {
      auto body = std::make_shared<std::string>(good_body);
      response.set_content_provider(body->size(), "application/json",
                                    [this, body](std::size_t offset, std::size_t, httplib::DataSink& sink) {
                                      std::unique_lock lock(mutex);
                                      if (changed.wait_for(lock, std::chrono::milliseconds{20},
                                                           [this] { return stopping; })) {
                                        return false;
                                      }
                                      return sink.write(body->data() + offset, 1);
                                    });
      return true;
    }
    }
    return false;
  }

  void serve_list(const httplib::Request& request, httplib::Response& response, const std::string& resource,
                  const std::string& namespace_name, const std::optional<PendingFault>& fault) {
    const LabelSelector selector(request.get_param_value("labelSelector"));
    const std::size_t limit =
        request.has_param("limit") ? std::max(1L, std::stol(request.get_param_value("limit"))) : SIZE_MAX;
    std::size_t offset = 0;
    nlohmann::json list;
    {
      const std::lock_guard lock(mutex);
      long long at = resource_version;
      if (const std::string token = request.get_param_value("continue"); !token.empty()) {
        const auto colon = token.find(':');
        offset = std::stoul(token.substr(0, colon));
        at = std::stoll(token.substr(colon + 1));
        if (at < compacted) {
          send_status(response, 410, "Expired", "The provided continue parameter is too old to display a "
                                                "consistent list result. You can start a new list without the "
                                                "continue parameter.");
          return;
        }
      }
      nlohmann::json items = nlohmann::json::array();
      std::size_t index = 0;
      bool more = false;
      for (const auto& [key, object] : objects[resource]) {
        const auto& metadata = object["metadata"];
        if ((!namespace_name.empty() && metadata.value("namespace", "") != namespace_name) ||
            !selector.matches(metadata.value("labels", nlohmann::json::object()))) {
          continue;
        }
        if (index++ < offset) {
          continue;
        }
        if (items.size() == limit) {
          more = true;
          break;
        }
        items.push_back(object);
      }
      const Kind& kind = k_kinds.at(resource);
      list = {{"kind", std::string(kind.kind) + "List"}, {"apiVersion", kind.api_version},
              {"metadata", {{"resourceVersion", std::to_string(at)}}}, {"items", items}};
      if (more) {
        list["metadata"]["continue"] = std::to_string(offset + items.size()) + ":" + std::to_string(at);
      }
    }
    const std::string body = list.dump();
    if (fault && answer_fault(*fault, response, body)) {
      return;
    }
    response.set_content(body, "application/json");
  }

  void serve_watch(const httplib::Request& request, httplib::Response& response, const std::string& resource,
                   const std::string& namespace_name, const std::optional<PendingFault>& fault) {
    if (fault && (fault->fault == ApiFault::throttle || fault->fault == ApiFault::server_error ||
                  fault->fault == ApiFault::hang)) {
      answer_fault(*fault, response, "");
      return;
    }
    const auto selector = std::make_shared<LabelSelector>(request.get_param_value("labelSelector"));
    const bool bookmarks = parse_go_bool(request.get_param_value("allowWatchBookmarks"));
    const long long timeout_seconds =
        request.has_param("timeoutSeconds") ? std::stoll(request.get_param_value("timeoutSeconds")) : 1800;
    const auto ends_at = std::chrono::steady_clock::now() + std::chrono::seconds{timeout_seconds};
    const std::string from = request.get_param_value("resourceVersion");
    const Kind kind = k_kinds.at(resource);

    auto cursor = std::make_shared<std::size_t>(0);
    auto opening = std::make_shared<std::vector<std::string>>();
    {
      const std::lock_guard lock(mutex);
      const auto event_line = [&kind](const std::string& type, nlohmann::json object) {
        object["kind"] = kind.kind;
        object["apiVersion"] = kind.api_version;
        return nlohmann::json{{"type", type}, {"object", object}}.dump() + "\n";
      };
      if (from.empty() || from == "0") {
        // No version: the current state as ADDED events, then what follows.
        for (const auto& [key, object] : objects[resource]) {
          const auto& metadata = object["metadata"];
          if ((namespace_name.empty() || metadata.value("namespace", "") == namespace_name) &&
              selector->matches(metadata.value("labels", nlohmann::json::object()))) {
            opening->push_back(event_line("ADDED", object));
          }
        }
        *cursor = history.size();
      } else if (std::stoll(from) < compacted) {
        opening->push_back(nlohmann::json{{"type", "ERROR"},
                                          {"object", status_object(410, "Expired",
                                                                   "too old resource version: " + from + " (" +
                                                                       std::to_string(compacted) + ")")}}
                               .dump() +
                           "\n");
        *cursor = SIZE_MAX;
      } else {
        const long long since = std::stoll(from);
        while (*cursor < history.size() && history[*cursor].resource_version <= since) {
          ++*cursor;
        }
      }
    }
    const std::optional<ApiFault> stream_fault =
        fault ? std::optional<ApiFault>(fault->fault) : std::optional<ApiFault>();
    auto last_bookmark = std::make_shared<std::chrono::steady_clock::time_point>(std::chrono::steady_clock::now());

    {
      const std::lock_guard lock(mutex);
      peak_watches = std::max(peak_watches, ++open_watches);
    }
    response.set_chunked_content_provider(
        "application/json",
        [this, resource, namespace_name, selector, bookmarks, ends_at, cursor, opening, stream_fault, kind,
         last_bookmark](std::size_t, httplib::DataSink& sink) {
          const auto write = [&](const std::string& text) {
            if (stream_fault == ApiFault::slow_drip) {
              for (const char c : text) {
                std::unique_lock lock(mutex);
                if (changed.wait_for(lock, std::chrono::milliseconds{20}, [this] { return stopping; })) {
                  return false;
                }
                lock.unlock();
                if (!sink.write(&c, 1)) {
                  return false;
                }
              }
              return true;
            }
            return sink.write(text.data(), text.size());
          };
          for (const auto& line : *opening) {
            if (!write(line)) {
              return false;
            }
          }
          const bool expired = *cursor == SIZE_MAX;
          opening->clear();
          if (expired) {
            sink.done();
            return true;
          }
          if (stream_fault == ApiFault::gone) {
            write(nlohmann::json{{"type", "ERROR"},
                                 {"object", status_object(410, "Expired", "too old resource version: 1 (2)")}}
                      .dump() +
                  "\n");
            sink.done();
            return true;
          }
          if (stream_fault == ApiFault::garbage) {
            write("<html>this is not a watch event</html>\n");
            sink.done();
            return true;
          }
          if (stream_fault == ApiFault::truncated_json) {
            write(R"({"type":"MODIFIED","object":{"kind":"EndpointSl)"
                  "\n");
            sink.done();
            return true;
          }

          std::unique_lock lock(mutex);
          const auto wake_at = [&] {
            auto at = ends_at;
            if (bookmarks && bookmark_interval > Duration::zero()) {
              at = std::min(at, *last_bookmark + bookmark_interval);
            }
            return at;
          };
          changed.wait_until(lock, wake_at(), [&] { return stopping || *cursor < history.size(); });
          if (stopping) {
            return false;
          }
          std::vector<std::string> lines;
          for (; *cursor < history.size(); ++*cursor) {
            const auto& event = history[*cursor];
            const auto& metadata = event.object["metadata"];
            if (event.resource != resource ||
                (!namespace_name.empty() && metadata.value("namespace", "") != namespace_name) ||
                !selector->matches(metadata.value("labels", nlohmann::json::object()))) {
              continue;
            }
            nlohmann::json object = event.object;
            object["kind"] = kind.kind;
            object["apiVersion"] = kind.api_version;
            lines.push_back(nlohmann::json{{"type", event.type}, {"object", object}}.dump() + "\n");
          }
          const auto now = std::chrono::steady_clock::now();
          const bool ending = now >= ends_at;
          const bool bookmark_due = bookmarks && (ending || (bookmark_interval > Duration::zero() &&
                                                             now >= *last_bookmark + bookmark_interval));
          const std::string version = std::to_string(resource_version);
          lock.unlock();

          if (stream_fault == ApiFault::reset && !lines.empty()) {
            write(lines.front().substr(0, lines.front().size() / 2));
            return false; // cut mid-event
          }
          for (const auto& line : lines) {
            if (!write(line)) {
              return false;
            }
          }
          if (bookmark_due) {
            // A BOOKMARK is an empty object of the watched kind holding only its resourceVersion.
            write(nlohmann::json{{"type", "BOOKMARK"},
                                 {"object", {{"kind", kind.kind}, {"apiVersion", kind.api_version},
                                             {"metadata", {{"resourceVersion", version}}}}}}
                      .dump() +
                  "\n");
            *last_bookmark = now;
          }
          if (ending) {
            sink.done();
          }
          return true;
        },
        [this](bool) {
          const std::lock_guard lock(mutex);
          --open_watches;
        });
  }

  void serve_collection(const httplib::Request& request, httplib::Response& response, const std::string& resource,
                        const std::string& namespace_name) {
    const bool watching = parse_go_bool(request.get_param_value("watch"));
    const std::string verb = watching ? "watch" : "list";
    if (!authorize(request, response, verb, resource, namespace_name)) {
      return;
    }
    const auto fault = take_fault(verb);
    std::function<void(const std::string&)> hook;
    {
      const std::lock_guard lock(mutex);
      hook = watching ? watch_hook : nullptr;
    }
    if (hook) {
      hook(namespace_name);
    }
    if (watching) {
      serve_watch(request, response, resource, namespace_name, fault);
    } else {
      serve_list(request, response, resource, namespace_name, fault);
    }
  }

  void serve_object(const httplib::Request& request, httplib::Response& response, const std::string& resource,
                    const std::string& namespace_name, const std::string& name) {
    if (!authorize(request, response, "get", resource, namespace_name, name)) {
      return;
    }
    const auto fault = take_fault("get");
    nlohmann::json object;
    {
      const std::lock_guard lock(mutex);
      const auto& collection = objects[resource];
      const auto found = collection.find(key_of(namespace_name, name));
      if (found == collection.end()) {
        send_status(response, 404, "NotFound", qualified(resource) + " \"" + name + "\" not found",
                    status_details(resource, name));
        return;
      }
      object = found->second;
    }
    object["kind"] = k_kinds.at(resource).kind;
    object["apiVersion"] = k_kinds.at(resource).api_version;
    const std::string body = object.dump();
    if (fault && answer_fault(*fault, response, body)) {
      return;
    }
    response.set_content(body, "application/json");
  }

  void serve_create(const httplib::Request& request, httplib::Response& response, const std::string& resource,
                    const std::string& namespace_name) {
    if (!authorize(request, response, "create", resource, namespace_name)) {
      return;
    }
    const auto fault = take_fault("create");
    auto object = nlohmann::json::parse(request.body, nullptr, false);
    if (!object.is_object()) {
      send_status(response, 400, "BadRequest", "the body is not a JSON object");
      return;
    }
    if (fault && answer_fault(*fault, response, "{}")) {
      return;
    }
    object["metadata"]["namespace"] = namespace_name;
    if (!object["metadata"].contains("name")) {
      object["metadata"]["name"] = object["metadata"].value("generateName", "event.") + std::to_string(requests["create"]);
    }
    {
      const std::lock_guard lock(mutex);
      put_locked(resource, object);
    }
    response.status = 201;
    response.set_content(object.dump(), "application/json");
  }

  void route() {
    const auto discovery = [this](const std::string& path, nlohmann::json document) {
      server.Get(path, [this, document](const httplib::Request& request, httplib::Response& response) {
        if (authorize(request, response, "get", "discovery", "")) {
          response.set_content(document.dump(), "application/json");
        }
      });
    };
    server.Get("/version", [](const httplib::Request&, httplib::Response& response) {
      response.set_content(R"({"major":"1","minor":"32","gitVersion":"v1.32.0","platform":"linux/amd64"})",
                           "application/json");
    });
    discovery("/api", {{"kind", "APIVersions"}, {"versions", {"v1"}},
                       {"serverAddressByClientCIDRs", {{{"clientCIDR", "0.0.0.0/0"},
                                                        {"serverAddress", "127.0.0.1:" + std::to_string(port)}}}}});
    const nlohmann::json discovery_group = {
        {"name", "discovery.k8s.io"},
        {"versions", {{{"groupVersion", "discovery.k8s.io/v1"}, {"version", "v1"}}}},
        {"preferredVersion", {{"groupVersion", "discovery.k8s.io/v1"}, {"version", "v1"}}}};
    discovery("/apis", {{"kind", "APIGroupList"}, {"apiVersion", "v1"}, {"groups", {discovery_group}}});
    discovery("/apis/discovery.k8s.io",
              {{"kind", "APIGroup"}, {"apiVersion", "v1"}, {"name", "discovery.k8s.io"},
               {"versions", discovery_group["versions"]}, {"preferredVersion", discovery_group["preferredVersion"]}});
    const nlohmann::json verbs = {"create", "delete", "get", "list", "patch", "update", "watch"};
    discovery("/api/v1", {{"kind", "APIResourceList"}, {"groupVersion", "v1"},
                          {"resources",
                           {{{"name", "pods"}, {"singularName", "pod"}, {"namespaced", true}, {"kind", "Pod"},
                             {"verbs", verbs}, {"shortNames", {"po"}}, {"categories", {"all"}}},
                            {{"name", "events"}, {"singularName", "event"}, {"namespaced", true}, {"kind", "Event"},
                             {"verbs", verbs}, {"shortNames", {"ev"}}}}}});
    discovery("/apis/discovery.k8s.io/v1",
              {{"kind", "APIResourceList"}, {"apiVersion", "v1"}, {"groupVersion", "discovery.k8s.io/v1"},
               {"resources", {{{"name", "endpointslices"}, {"singularName", "endpointslice"}, {"namespaced", true},
                               {"kind", "EndpointSlice"}, {"verbs", verbs}}}}});

    for (const auto& [resource, prefix] : std::vector<std::pair<std::string, std::string>>{
             {"pods", "/api/v1"}, {"events", "/api/v1"}, {"endpointslices", "/apis/discovery.k8s.io/v1"}}) {
      const std::string r = resource;
      server.Get(prefix + "/namespaces/([^/]+)/" + r + "/([^/]+)", [this, r](const auto& request, auto& response) {
        serve_object(request, response, r, request.matches[1], request.matches[2]);
      });
      server.Get(prefix + "/namespaces/([^/]+)/" + r, [this, r](const auto& request, auto& response) {
        serve_collection(request, response, r, request.matches[1]);
      });
      server.Get(prefix + "/" + r, [this, r](const auto& request, auto& response) {
        serve_collection(request, response, r, "");
      });
      server.Post(prefix + "/namespaces/([^/]+)/" + r, [this, r](const auto& request, auto& response) {
        serve_create(request, response, r, request.matches[1]);
      });
    }
    server.set_error_handler([](const httplib::Request& request, httplib::Response& response) {
      if (response.body.empty()) {
        send_status(response, response.status, response.status == 404 ? "NotFound" : "BadRequest",
                    "the server could not find the requested resource (" + request.method + " " + request.path + ")");
      }
    });
  }
};

FakeApiServer::FakeApiServer() : m_state(std::make_unique<State>()) {
  State& state = *m_state;
  std::string pattern = (std::filesystem::temp_directory_path() / "lameduck-token-XXXXXX").string();
  state.token_dir = ::mkdtemp(pattern.data());
  state.token_file = state.token_dir + "/token";
  (void)write_file_atomically(state.token_file, std::string(k_token) + "\n");
  state.tokens[k_token] = {{"*"}, {}};

  // Every open watch holds a thread: enough for a rollout's worth of concurrent prestops.
  state.server.new_task_queue = [] { return new httplib::ThreadPool(128); };
  state.server.set_idle_interval(0, 0);
  // As Go's net/http does: watch events are small writes that must not wait for an ACK.
  state.server.set_tcp_nodelay(true);
  state.port = state.server.bind_to_any_port("127.0.0.1");
  state.route();
  state.serving = std::thread([&state] { state.server.listen_after_bind(); });
  state.controller = std::thread([&state] { state.run_controllers(); });
}

FakeApiServer::~FakeApiServer() {
  {
    const std::lock_guard lock(m_state->mutex);
    m_state->stopping = true;
  }
  m_state->changed.notify_all();
  m_state->controller.join();
  m_state->server.stop();
  m_state->serving.join();
  std::error_code ignored;
  std::filesystem::remove_all(m_state->token_dir, ignored);
}

std::string FakeApiServer::url() const {
  return "https://127.0.0.1:" + std::to_string(m_state->port);
}

int FakeApiServer::port() const {
  return m_state->port;
}

const std::string& FakeApiServer::ca_file() const {
  return test_certificates().ca_file;
}

const std::string& FakeApiServer::token_file() const {
  return m_state->token_file;
}

void FakeApiServer::allow_token(const std::string& token, std::set<std::string> allowed, std::string user) {
  const std::lock_guard lock(m_state->mutex);
  m_state->tokens[token] = {std::move(allowed), std::move(user)};
}

std::string FakeApiServer::put(const std::string& resource, nlohmann::json object) {
  const std::lock_guard lock(m_state->mutex);
  return m_state->put_locked(resource, std::move(object));
}

void FakeApiServer::remove(const std::string& resource, const std::string& namespace_name, const std::string& name) {
  const std::lock_guard lock(m_state->mutex);
  auto& collection = m_state->objects[resource];
  const auto found = collection.find(key_of(namespace_name, name));
  if (found == collection.end()) {
    return;
  }
  nlohmann::json object = found->second;
  collection.erase(found);
  object["metadata"]["resourceVersion"] = std::to_string(++m_state->resource_version);
  m_state->history.push_back({m_state->resource_version, resource, "DELETED", object});
  m_state->changed.notify_all();
}

nlohmann::json FakeApiServer::object(const std::string& resource, const std::string& namespace_name,
                                     const std::string& name) const {
  const std::lock_guard lock(m_state->mutex);
  const auto& collection = m_state->objects[resource];
  const auto found = collection.find(key_of(namespace_name, name));
  return found == collection.end() ? nlohmann::json() : found->second;
}

void FakeApiServer::compact() {
  const std::lock_guard lock(m_state->mutex);
  m_state->compacted = m_state->resource_version;
}

std::string FakeApiServer::resource_version() const {
  const std::lock_guard lock(m_state->mutex);
  return std::to_string(m_state->resource_version);
}

void FakeApiServer::set_pod_endpoints(const std::string& pod_uid, bool ready, bool serving, bool terminating) {
  const std::lock_guard lock(m_state->mutex);
  std::vector<nlohmann::json> changed;
  for (const auto& [key, slice] : m_state->objects["endpointslices"]) {
    nlohmann::json updated = slice;
    bool touched = false;
    if (!updated["endpoints"].is_array()) {
      continue;
    }
    for (auto& endpoint : updated["endpoints"]) {
      if (endpoint.contains("targetRef") && endpoint["targetRef"].value("uid", "") == pod_uid) {
        endpoint["conditions"] = {{"ready", ready}, {"serving", serving}, {"terminating", terminating}};
        touched = true;
      }
    }
    if (touched) {
      changed.push_back(std::move(updated));
    }
  }
  for (auto& slice : changed) {
    m_state->put_locked("endpointslices", std::move(slice));
  }
}

void FakeApiServer::delete_pod(const std::string& namespace_name, const std::string& name, int grace_seconds,
                               Duration controller_delay, Duration after) {
  if (after > Duration::zero()) {
    m_state->schedule(after, [this, namespace_name, name, grace_seconds, controller_delay] {
      delete_pod(namespace_name, name, grace_seconds, controller_delay);
    });
    return;
  }
  const nlohmann::json pod = mark_deleted(namespace_name, name, grace_seconds);
  const std::string uid = pod["metadata"].value("uid", "");
  bool was_ready = true;
  if (pod.contains("status") && pod["status"].contains("conditions")) {
    for (const auto& condition : pod["status"]["conditions"]) {
      if (condition.value("type", "") == "Ready") {
        was_ready = condition.value("status", "True") == "True";
      }
    }
  }
  if (controller_delay == Duration::zero()) {
    set_pod_endpoints(uid, false, was_ready, true);
    return;
  }
  m_state->schedule(controller_delay, [this, uid, was_ready] { set_pod_endpoints(uid, false, was_ready, true); });
}

nlohmann::json FakeApiServer::mark_deleted(const std::string& namespace_name, const std::string& name,
                                           int grace_seconds) {
  nlohmann::json pod = object("pods", namespace_name, name);
  // Whole seconds, as the apiserver writes metadata timestamps.
  const auto when = std::chrono::floor<std::chrono::seconds>(WallClock::now()) + std::chrono::seconds{grace_seconds};
  std::string timestamp = format_rfc3339(when);
  timestamp = timestamp.substr(0, timestamp.find('.')) + "Z";
  pod["metadata"]["deletionTimestamp"] = timestamp;
  pod["metadata"]["deletionGracePeriodSeconds"] = grace_seconds;
  put("pods", pod);
  return pod;
}

void FakeApiServer::on_watch(std::function<void(const std::string& namespace_name)> hook) {
  const std::lock_guard lock(m_state->mutex);
  m_state->watch_hook = std::move(hook);
}

void FakeApiServer::inject(const std::string& verb, ApiFault fault, int times, int retry_after_seconds) {
  const std::lock_guard lock(m_state->mutex);
  for (int i = 0; i < times; ++i) {
    m_state->faults[verb].push_back({fault, retry_after_seconds});
  }
}

int FakeApiServer::peak_watches() const {
  const std::lock_guard lock(m_state->mutex);
  return m_state->peak_watches;
}

bool FakeApiServer::wait_for_requests(const std::string& verb, int count, const Deadline& deadline) const {
  std::unique_lock lock(m_state->mutex);
  return m_state->changed.wait_until(lock, deadline.when(), [&] {
    const auto found = m_state->requests.find(verb);
    return found != m_state->requests.end() && found->second >= count;
  });
}

int FakeApiServer::requests(const std::string& verb) const {
  const std::lock_guard lock(m_state->mutex);
  const auto found = m_state->requests.find(verb);
  return found == m_state->requests.end() ? 0 : found->second;
}

void FakeApiServer::set_bookmark_interval(Duration interval) {
  const std::lock_guard lock(m_state->mutex);
  m_state->bookmark_interval = interval;
}

} // namespace lameduck::test
