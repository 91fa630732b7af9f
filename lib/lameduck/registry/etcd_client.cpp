#include "lameduck/registry/etcd_client.hpp"

#include "lameduck/core/backoff.hpp"
#include "lameduck/core/base64.hpp"
#include "lameduck/http/http_retry.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace lameduck {

namespace {

// One member that does not answer within this is treated as down, and the next is asked.
constexpr auto k_attempt_timeout = std::chrono::milliseconds{1500};
constexpr BackoffPolicy k_backoff{.first = std::chrono::milliseconds{100}, .max = std::chrono::seconds{1}};
// Range and delete answers are small; this bounds what a hostile member can make us hold.
constexpr std::size_t k_max_answer_bytes = std::size_t{1} << 20;

// The gateway writes int64 fields as JSON strings; accept numbers too.
std::optional<std::int64_t> json_int64(const nlohmann::json& object, const char* field) {
  if (!object.is_object() || !object.contains(field)) {
    return std::nullopt;
  }
  const auto& value = object[field];
  if (value.is_number_integer()) {
    return value.get<std::int64_t>();
  }
  if (value.is_string()) {
    const auto& text = value.get_ref<const std::string&>();
    std::int64_t number = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), number);
    if (error == std::errc{} && end == text.data() + text.size()) {
      return number;
    }
  }
  return std::nullopt;
}

// gRPC's NotFound, as the gateway reports a lease that is gone. A 404 without it is a server
// that has no etcd gateway at that path.
bool is_not_found(const nlohmann::json& body) {
  return json_int64(body, "code") == 5;
}

std::string gateway_message(const nlohmann::json& body) {
  if (body.is_object()) {
    for (const char* field : {"message", "error"}) {
      if (body.contains(field) && body[field].is_string()) {
        return body[field].get<std::string>();
      }
    }
  }
  return "no error message";
}

} // namespace

std::optional<std::int64_t> parse_lease_id(std::string_view text) {
  int base = 10;
  if (text.starts_with("0x") || text.starts_with("0X")) {
    text.remove_prefix(2);
    base = 16;
  } else if (std::any_of(text.begin(), text.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) && std::isalpha(static_cast<unsigned char>(c)); })) {
    base = 16;
  }
  std::uint64_t id = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), id, base);
  if (text.empty() || error != std::errc{} || end != text.data() + text.size() || id == 0 ||
      id > static_cast<std::uint64_t>(INT64_MAX)) {
    return std::nullopt;
  }
  return static_cast<std::int64_t>(id);
}

EtcdClient::EtcdClient(EtcdClientOptions options, const Logger& logger)
    : m_options(std::move(options)), m_logger(logger) {
  for (const auto& endpoint : m_options.endpoints) {
    m_clients.emplace_back(endpoint, HttpClientOptions{.ca_file = m_options.ca_file,
                                                       .client_cert_file = m_options.cert_file,
                                                       .client_key_file = m_options.key_file,
                                                       .max_body_bytes = k_max_answer_bytes});
  }
}

EtcdClient::~EtcdClient() = default;

Expected<std::int64_t> EtcdClient::delete_key(const std::string& key, const Deadline& deadline) {
  auto answer = call("/v3/kv/deleterange", {{"key", base64_encode(key)}}, deadline);
  if (!answer) {
    return unexpected(answer.error());
  }
  return json_int64(answer->body, "deleted").value_or(0);
}

Expected<std::optional<std::int64_t>> EtcdClient::lease_at(const std::string& key, const Deadline& deadline) {
  auto answer = call("/v3/kv/range", {{"key", base64_encode(key)}}, deadline);
  if (!answer) {
    return unexpected(answer.error());
  }
  const auto& kvs = answer->body.is_object() ? answer->body.value("kvs", nlohmann::json::array()) : nlohmann::json();
  if (!kvs.is_array() || kvs.empty()) {
    return std::optional<std::int64_t>{};
  }
  const auto& kv = kvs.front();
  if (const auto attached = json_int64(kv, "lease"); attached && *attached != 0) {
    return std::optional<std::int64_t>{*attached};
  }
  const auto value = kv.is_object() && kv.contains("value") && kv["value"].is_string()
                         ? base64_decode(kv["value"].get<std::string>())
                         : Expected<std::string>(std::string{});
  const auto lease = value ? parse_lease_id(*value) : std::nullopt;
  if (!lease) {
    return unexpected("the key \"" + key + "\" is attached to no lease and its value is not a lease id");
  }
  return std::optional<std::int64_t>{*lease};
}

Expected<bool> EtcdClient::revoke_lease(std::int64_t lease, const Deadline& deadline) {
  auto answer = call("/v3/lease/revoke", {{"ID", std::to_string(lease)}}, deadline);
  if (!answer) {
    return unexpected(answer.error());
  }
  return !is_not_found(answer->body); // NotFound: it expired or was revoked before
}

Expected<EtcdClient::Answer> EtcdClient::call(const std::string& path, const nlohmann::json& request,
                                              const Deadline& deadline) {
  if (m_clients.empty()) {
    return unexpected(std::string("no etcd endpoint"));
  }
  Backoff backoff(k_backoff);
  std::string last_error;
  while (true) {
    // A round: every member once, starting with the one that answered last.
    for (std::size_t n = 0; n < m_clients.size(); ++n) {
      const std::size_t endpoint = (m_current + n) % m_clients.size();
      auto answer = call_once(endpoint, path, request, deadline.within(k_attempt_timeout));
      if (answer && !is_retryable_status(answer->status)) {
        m_current = endpoint;
        if (answer->status == 200 || is_not_found(answer->body)) {
          return std::move(*answer);
        }
        return unexpected("etcd at " + m_options.endpoints[endpoint].origin() + " answered " + path + " with " +
                          std::to_string(answer->status) + ": " + gateway_message(answer->body));
      }
      if (!answer && !answer.error().retryable) {
        return unexpected(answer.error().message);
      }
      last_error = answer ? "etcd at " + m_options.endpoints[endpoint].origin() + " answered " +
                                std::to_string(answer->status) + ": " + gateway_message(answer->body)
                          : answer.error().message;
      if (deadline.expired()) {
        return unexpected(last_error);
      }
      m_logger.debug("etcd.retry", last_error, {{"path", path}});
    }
    if (!backoff.wait(deadline)) {
      return unexpected(last_error);
    }
  }
}

Expected<EtcdClient::Answer, EtcdClient::CallFailure> EtcdClient::call_once(std::size_t endpoint,
                                                                            const std::string& path,
                                                                            const nlohmann::json& request,
                                                                            const Deadline& deadline) {
  if (!m_options.user.empty() && m_token.empty()) {
    if (auto authenticated = authenticate(endpoint, deadline); !authenticated) {
      return unexpected(authenticated.error());
    }
  }
  for (int attempt = 0;; ++attempt) {
    HttpRequest http{.method = "POST", .target = path, .headers = {}, .body = request.dump(),
                     .content_type = "application/json"};
    if (!m_token.empty()) {
      http.headers.emplace_back("Authorization", m_token); // etcd takes the bare token
    }
    ++m_requests;
    auto response = m_clients[endpoint].send(http, deadline);
    if (!response) {
      return unexpected(CallFailure{response.error().message});
    }
    // Tokens expire (simple tokens after 5 min idle): one fresh token, one more try.
    if (response->status == 401 && !m_options.user.empty() && attempt == 0) {
      m_token.clear();
      if (auto authenticated = authenticate(endpoint, deadline); !authenticated) {
        return unexpected(authenticated.error());
      }
      continue;
    }
    auto body = nlohmann::json::parse(response->body, nullptr, false);
    if (body.is_discarded() && response->status == 200) {
      return unexpected(CallFailure{"etcd at " + m_options.endpoints[endpoint].origin() + " answered " + path +
                                    " with something that is not JSON"});
    }
    return Answer{response->status, std::move(body)};
  }
}

Expected<Done, EtcdClient::CallFailure> EtcdClient::authenticate(std::size_t endpoint, const Deadline& deadline) {
  const nlohmann::json credentials{{"name", m_options.user}, {"password", m_options.password}};
  ++m_requests;
  auto response = m_clients[endpoint].send({.method = "POST", .target = "/v3/auth/authenticate", .headers = {},
                                            .body = credentials.dump(), .content_type = "application/json"},
                                           deadline);
  if (!response) {
    return unexpected(CallFailure{response.error().message});
  }
  const auto body = nlohmann::json::parse(response->body, nullptr, false);
  if (response->status == 200 && body.is_object() && body.contains("token") && body["token"].is_string()) {
    m_token = body["token"].get<std::string>();
    return Done{};
  }
  const std::string message = gateway_message(body);
  if (message.find("authentication is not enabled") != std::string::npos) {
    m_logger.debug("etcd.auth", "etcd has authentication off; going on without a token");
    m_options.user.clear();
    return Done{};
  }
  // A refused password is final: asking again only burns the members' deliberately slow
  // password hash, and would let the deadline hide the reason. A busy member may still say yes.
  return unexpected(CallFailure{"etcd at " + m_options.endpoints[endpoint].origin() + " refused user \"" +
                                    m_options.user + "\" (" + std::to_string(response->status) + "): " + message,
                                is_retryable_status(response->status)});
}

} // namespace lameduck
