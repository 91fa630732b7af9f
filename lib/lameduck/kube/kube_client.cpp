#include "lameduck/kube/kube_client.hpp"

#include "lameduck/core/backoff.hpp"
#include "lameduck/core/text.hpp"
#include "lameduck/http/http_retry.hpp"

#include <cctype>

namespace lameduck {

namespace {

constexpr BackoffPolicy k_backoff{.first = std::chrono::milliseconds{200}, .max = std::chrono::seconds{5}};
// A watch line longer than this is not an event we can use.
constexpr std::size_t k_max_watch_line = std::size_t{16} << 20;
// The server ends a watch after timeoutSeconds; this much more is allowed before we stop it.
constexpr auto k_watch_slack = std::chrono::seconds{5};

// The "message" of a Status body, else the start of whatever the body is.
std::string status_message(const std::string& body) {
  const auto json = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (json.is_object() && json.contains("message") && json["message"].is_string()) {
    return json["message"].get<std::string>();
  }
  return trim_line_ends(body.substr(0, 200));
}

} // namespace

std::string url_encode(std::string_view text) {
  static constexpr char k_hex[] = "0123456789ABCDEF";
  std::string out;
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (std::isalnum(byte) != 0 || c == '-' || c == '_' || c == '.' || c == '~') {
      out += c;
    } else {
      out += '%';
      out += k_hex[byte >> 4];
      out += k_hex[byte & 0xf];
    }
  }
  return out;
}

std::string service_name_selector(const std::vector<std::string>& services) {
  if (services.empty()) {
    return {};
  }
  if (services.size() == 1) {
    return "kubernetes.io/service-name=" + services.front();
  }
  std::string selector = "kubernetes.io/service-name in (";
  for (std::size_t i = 0; i < services.size(); ++i) {
    selector += (i > 0 ? "," : "") + services[i];
  }
  return selector + ")";
}

KubeClient::KubeClient(KubeConfig config, const Logger& logger, KubeClientOptions options)
    : m_config(std::move(config)), m_logger(logger), m_options(options), m_token(m_config.token_file) {
  HttpClientOptions http;
  http.ca_file = m_config.ca_file;
  http.max_body_bytes = m_options.max_body_bytes;
  http.user_agent = "lameduck";
  m_http = std::make_unique<HttpClient>(m_config.server, http);
}

KubeClient::~KubeClient() = default;

Expected<HttpResponse, KubeError> KubeClient::send(HttpRequest request, const KubeAccess& access,
                                                   const Deadline& deadline, const HttpClient::BodyReceiver* receiver) {
  const auto fail = [](KubeErrorKind kind, int code, std::string message) {
    return unexpected(KubeError{.kind = kind, .code = code, .message = std::move(message)});
  };
  const std::string what = access.verb + " " + access.resource;
  request.headers.emplace_back("Accept", "application/json");
  const std::size_t auth_header = request.headers.size();
  request.headers.emplace_back("Authorization", "");
  bool token_refreshed = false;
  Backoff backoff(k_backoff);

  for (int attempt = 1;; ++attempt) {
    const auto token = m_token.token();
    if (!token) {
      return fail(KubeErrorKind::unauthorized, 0, token.error().message);
    }
    request.headers[auth_header].second = "Bearer " + *token;
    ++m_requests;
    const auto answer = receiver != nullptr ? m_http->stream(request, deadline, *receiver) : m_http->send(request, deadline);

    std::optional<Duration> wait;
    KubeError retryable;
    if (!answer) {
      const auto& error = answer.error();
      if (error.kind == HttpErrorKind::timeout) {
        return fail(KubeErrorKind::timeout, 0, what + ": " + error.message);
      }
      if (error.kind == HttpErrorKind::too_large) {
        return fail(KubeErrorKind::invalid, 0, what + ": " + error.message);
      }
      if (error.kind == HttpErrorKind::tls || receiver != nullptr) {
        // A broken watch is the caller's to resume from its last resourceVersion.
        return fail(KubeErrorKind::unreachable, 0, what + ": " + error.message);
      }
      retryable = {KubeErrorKind::unreachable, 0, what + ": " + error.message};
    } else {
      const int status = answer->status;
      m_bytes_read += static_cast<long long>(answer->body.size());
      if (status >= 200 && status < 300) {
        return *answer;
      }
      const std::string message = status_message(answer->body);
      if (status == 401) {
        if (!token_refreshed) {
          token_refreshed = true; // the kubelet may just have rotated it
          m_token.invalidate();
          continue;
        }
        return fail(KubeErrorKind::unauthorized, status,
                    what + ": the API server does not accept the service account token (401): " + message);
      }
      if (status == 403) {
        return fail(KubeErrorKind::forbidden, status,
                    what + " is forbidden (403): give the pod's service account a Role rule allowing \"" +
                        access.verb + "\" on " + access.resource + " (" + message + ")");
      }
      if (status == 404) {
        return fail(KubeErrorKind::not_found, status, what + ": not found (" + message + ")");
      }
      if (status == 410) {
        return fail(KubeErrorKind::gone, status, what + ": " + message);
      }
      if (!is_retryable_status(status)) {
        return fail(KubeErrorKind::server, status, what + ": the API server answered " + std::to_string(status) +
                                                       " (" + message + ")");
      }
      retryable = {status == 429 ? KubeErrorKind::throttled : KubeErrorKind::server, status,
                   what + ": the API server answered " + std::to_string(status) + " (" + message + ")"};
      wait = retry_after(*answer);
    }
    // 408, 429, 5xx and refused connections: back off (or as long as Retry-After says),
    // within the deadline and the attempts allowed.
    const auto pause = backoff.next_within(deadline, wait);
    if (attempt >= m_options.max_attempts || !pause) {
      return unexpected(retryable);
    }
    m_logger.debug("kube.retry", retryable.message, {{"attempt", attempt}, {"wait_ms", to_ms(*pause)}});
    sleep_within(*pause, deadline);
  }
}

Expected<nlohmann::json, KubeError> KubeClient::get(const std::string& path, const KubeAccess& access,
                                                    const Deadline& deadline) {
  HttpRequest request;
  request.target = path;
  const auto answer = send(request, access, deadline, nullptr);
  if (!answer) {
    return unexpected(answer.error());
  }
  auto json = nlohmann::json::parse(answer->body, nullptr, /*allow_exceptions=*/false);
  if (!json.is_object()) {
    return unexpected(KubeError{KubeErrorKind::invalid, answer->status, path + ": the answer is not a JSON object"});
  }
  return json;
}

Expected<nlohmann::json, KubeError> KubeClient::create(const std::string& path, const nlohmann::json& object,
                                                       const KubeAccess& access, const Deadline& deadline) {
  HttpRequest request;
  request.method = "POST";
  request.target = path;
  request.body = object.dump();
  request.content_type = "application/json";
  const auto answer = send(request, access, deadline, nullptr);
  if (!answer) {
    return unexpected(answer.error());
  }
  return nlohmann::json::parse(answer->body, nullptr, /*allow_exceptions=*/false);
}

Expected<KubeList, KubeError> KubeClient::list(const std::string& path, const std::string& label_selector,
                                               const KubeAccess& access, const Deadline& deadline) {
  KubeList list;
  std::string continue_token;
  do {
    HttpRequest request;
    request.target = path + "?limit=" + std::to_string(m_options.page_size);
    if (!label_selector.empty()) {
      request.target += "&labelSelector=" + url_encode(label_selector);
    }
    if (!continue_token.empty()) {
      request.target += "&continue=" + url_encode(continue_token);
    }
    const auto answer = send(request, access, deadline, nullptr);
    if (!answer) {
      return unexpected(answer.error());
    }
    auto page = nlohmann::json::parse(answer->body, nullptr, /*allow_exceptions=*/false);
    if (!page.is_object() || !page.contains("metadata") || !page["metadata"].is_object()) {
      return unexpected(KubeError{KubeErrorKind::invalid, answer->status, path + ": the answer is not a list"});
    }
    auto& items = page["items"];
    if (items.is_array()) {
      for (auto& item : items) {
        list.items.push_back(std::move(item));
      }
    } else if (!items.is_null()) {
      return unexpected(KubeError{KubeErrorKind::invalid, answer->status, path + ": \"items\" is not an array"});
    }
    const auto& metadata = page["metadata"];
    list.resource_version = metadata.value("resourceVersion", "");
    continue_token = metadata.value("continue", "");
  } while (!continue_token.empty());
  return list;
}

Expected<Done, KubeError> KubeClient::watch(const std::string& path, const std::string& label_selector,
                                            const std::string& resource_version, Duration timeout,
                                            const KubeAccess& access, const Deadline& deadline,
                                            const WatchHandler& handler) {
  const auto seconds = std::max<long long>(1, std::chrono::duration_cast<std::chrono::seconds>(timeout).count());
  HttpRequest request;
  request.target = path + "?watch=1&allowWatchBookmarks=true&timeoutSeconds=" + std::to_string(seconds);
  if (!resource_version.empty()) {
    request.target += "&resourceVersion=" + url_encode(resource_version);
  }
  if (!label_selector.empty()) {
    request.target += "&labelSelector=" + url_encode(label_selector);
  }

  std::string pending;
  std::optional<KubeError> stream_error;
  bool stopped = false;
  const HttpClient::BodyReceiver receiver = [&](std::string_view piece) {
    m_bytes_read += static_cast<long long>(piece.size());
    pending.append(piece);
    std::size_t start = 0;
    for (std::size_t end; (end = pending.find('\n', start)) != std::string::npos; start = end + 1) {
      const std::string_view line(pending.data() + start, end - start);
      if (line.find_first_not_of(" \r\t") == std::string_view::npos) {
        continue;
      }
      auto event = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
      if (!event.is_object() || !event.contains("type") || !event["type"].is_string() ||
          !event.contains("object") || !event["object"].is_object()) {
        stream_error = KubeError{KubeErrorKind::invalid, 200, path + ": a watch line is not an event"};
        return false;
      }
      const std::string type = event["type"].get<std::string>();
      if (type == "ERROR") {
        const auto& status = event["object"];
        const int code = status.value("code", 0);
        stream_error = KubeError{code == 410 ? KubeErrorKind::gone : KubeErrorKind::server, code,
                                 path + ": watch error: " + status.value("message", std::string("no message"))};
        return false;
      }
      if (!handler(WatchEvent{type, std::move(event["object"])})) {
        stopped = true;
        return false;
      }
    }
    pending.erase(0, start);
    if (pending.size() > k_max_watch_line) {
      stream_error = KubeError{KubeErrorKind::invalid, 200, path + ": a watch line is longer than 16 MiB"};
      return false;
    }
    return true;
  };

  const auto answer = send(request, access, deadline.within(timeout + k_watch_slack), &receiver);
  if (stream_error) {
    return unexpected(*stream_error);
  }
  if (stopped) {
    return Done{};
  }
  if (!answer) {
    if (answer.error().kind == KubeErrorKind::timeout && !deadline.expired()) {
      return Done{}; // the server kept the stream past timeoutSeconds: ours to end
    }
    return unexpected(answer.error());
  }
  return Done{};
}

} // namespace lameduck
