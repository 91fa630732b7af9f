#include "lameduck/http/http_client.hpp"

#include "lameduck/version.hpp"

#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <strings.h>
#include <thread>

namespace lameduck {

namespace {

// Stops the client when the deadline passes. httplib's own timeouts apply to each read, so a
// peer that keeps sending a trickle would otherwise hold the request forever; stop() shuts
// the socket down from this thread, which is the one thread-safe way to end an exchange.
class DeadlineWatchdog {
public:
  DeadlineWatchdog(httplib::Client& client, const Deadline& deadline)
      : m_thread([this, &client, when = deadline.when()] {
          std::unique_lock lock(m_mutex);
          if (!m_done_changed.wait_until(lock, when, [this] { return m_done; })) {
            m_fired = true;
            client.stop();
          }
        }) {}

  ~DeadlineWatchdog() {
    {
      const std::lock_guard lock(m_mutex);
      m_done = true;
    }
    m_done_changed.notify_one();
    m_thread.join();
  }

  DeadlineWatchdog(const DeadlineWatchdog&) = delete;
  DeadlineWatchdog& operator=(const DeadlineWatchdog&) = delete;

  bool fired() {
    const std::lock_guard lock(m_mutex);
    return m_fired;
  }

private:
  std::mutex m_mutex;
  std::condition_variable m_done_changed;
  bool m_done = false;
  bool m_fired = false;
  std::thread m_thread;
};

// Without OpenSSL, httplib refuses an https origin by throwing; such a client is never
// built, and send() says why instead (see HttpClient::stream).
#ifdef CPPHTTPLIB_OPENSSL_SUPPORT
constexpr bool k_https_built_in = true;
#else
constexpr bool k_https_built_in = false;
#endif

std::string client_origin(const Url& origin) {
  return (origin.scheme == "https" && !k_https_built_in) ? "http://" + join_host_port(origin.host, origin.port)
                                                         : origin.origin();
}

} // namespace

struct HttpClient::Impl {
  Impl(const Url& origin, const HttpClientOptions& options)
      : client(client_origin(origin), options.client_cert_file, options.client_key_file) {}

  httplib::Client client;
};

std::string HttpResponse::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (key.size() == name.size() && strncasecmp(key.data(), name.data(), name.size()) == 0) {
      return value;
    }
  }
  return {};
}

HttpClient::HttpClient(Url origin, HttpClientOptions options)
    : m_origin(std::move(origin)), m_options(std::move(options)), m_impl(std::make_unique<Impl>(m_origin, m_options)) {
  auto& client = m_impl->client;
  client.set_keep_alive(m_options.keep_alive);
  client.set_follow_location(false);
  // Requests are small and latency is the point: no Nagle delay waiting for an ACK.
  client.set_tcp_nodelay(true);
#ifdef CPPHTTPLIB_OPENSSL_SUPPORT
  if (m_origin.scheme == "https") {
    client.enable_server_certificate_verification(true);
    if (!m_options.ca_file.empty()) {
      client.set_ca_cert_path(m_options.ca_file);
    }
  }
#endif
}

bool HttpClient::supports_https() {
  return k_https_built_in;
}

HttpClient::~HttpClient() = default;
HttpClient::HttpClient(HttpClient&&) noexcept = default;
HttpClient& HttpClient::operator=(HttpClient&&) noexcept = default;

Expected<HttpResponse, HttpError> HttpClient::send(const HttpRequest& request, const Deadline& deadline) {
  return stream(request, deadline, {});
}

Expected<HttpResponse, HttpError> HttpClient::stream(const HttpRequest& request, const Deadline& deadline,
                                                     const BodyReceiver& receiver) {
  const auto started = Clock::now();
  const std::string where = m_origin.origin();
  if (m_origin.scheme == "https" && !k_https_built_in) {
    return unexpected(HttpError{HttpErrorKind::tls, "cannot ask " + where +
                                                        ": this tool speaks plain HTTP only (built without TLS)"});
  }
  if (deadline.expired(started)) {
    return unexpected(HttpError{HttpErrorKind::timeout, "no time left to ask " + where});
  }

  auto& client = m_impl->client;
  const Duration connect_budget = deadline.cap(m_options.connect_timeout, started);
  client.set_connection_timeout(connect_budget);
  // Per-read bounds; the watchdog bounds the exchange as a whole.
  client.set_read_timeout(deadline.remaining(started));
  client.set_write_timeout(deadline.remaining(started));

  httplib::Request raw;
  raw.method = request.method;
  raw.path = request.target;
  for (const auto& [name, value] : request.headers) {
    raw.headers.emplace(name, value);
  }
  raw.headers.emplace("User-Agent", m_options.user_agent.empty() ? "lameduck/" + std::string(k_version)
                                                                  : m_options.user_agent);
  if (!request.body.empty() || request.method == "POST" || request.method == "PUT") {
    raw.body = request.body;
    raw.headers.emplace("Content-Type", request.content_type.empty() ? "application/octet-stream"
                                                                     : request.content_type);
  }

  HttpResponse response;
  bool too_large = false;
  std::size_t received = 0;
  raw.response_handler = [&](const httplib::Response& head) {
    response.status = head.status;
    for (const auto& [name, value] : head.headers) {
      response.headers.emplace_back(name, value);
    }
    return true;
  };
  raw.content_receiver = [&](const char* data, std::size_t length, std::uint64_t, std::uint64_t) {
    const bool streamed = receiver && response.status >= 200 && response.status < 300;
    if (streamed) {
      return receiver(std::string_view(data, length));
    }
    received += length;
    if (received > m_options.max_body_bytes) {
      too_large = true;
      return false;
    }
    response.body.append(data, length);
    return true;
  };

  httplib::Response raw_response;
  auto error = httplib::Error::Success;
  bool deadline_fired = false;
  {
    DeadlineWatchdog watchdog(client, deadline);
    client.send(raw, raw_response, error);
    deadline_fired = watchdog.fired();
  }

  const auto elapsed_ms = to_ms(Clock::now() - started);
  if (error == httplib::Error::Success) {
    if (response.status == 0) {
      // cpp-httplib skips the response handler for bodiless answers such as HEAD's.
      response.status = raw_response.status;
      response.headers.assign(raw_response.headers.begin(), raw_response.headers.end());
    }
    return response;
  }
  if (error == httplib::Error::Canceled && !too_large && response.status != 0) {
    return response; // The receiver asked to stop.
  }
  if (too_large) {
    return unexpected(HttpError{HttpErrorKind::too_large, "the answer from " + where + " is larger than " +
                                                              std::to_string(m_options.max_body_bytes) + " bytes"});
  }
  if (deadline_fired) {
    return unexpected(HttpError{HttpErrorKind::timeout, "no complete answer from " + where + " within " +
                                                            std::to_string(elapsed_ms) + " ms (deadline)"});
  }
  switch (error) {
  case httplib::Error::Connection:
    // httplib reports refusals and connect timeouts alike; the time taken tells them apart.
    if (Clock::now() - started >= connect_budget) {
      return unexpected(HttpError{HttpErrorKind::timeout, "could not connect to " + where + " within " +
                                                              std::to_string(to_ms(connect_budget)) + " ms"});
    }
    return unexpected(HttpError{HttpErrorKind::refused, "connection to " + where + " refused"});
  case httplib::Error::SSLConnection:
    return unexpected(HttpError{HttpErrorKind::tls, "TLS handshake with " + where + " failed"});
  case httplib::Error::SSLLoadingCerts:
    return unexpected(HttpError{HttpErrorKind::tls, "could not load the CA file \"" + m_options.ca_file +
                                                        "\" or the client certificate"});
  case httplib::Error::SSLServerVerification:
    return unexpected(HttpError{HttpErrorKind::tls, "the certificate of " + where +
                                                        " is not signed by the trusted CA or does not name " +
                                                        m_origin.host});
  case httplib::Error::Read:
    if (Clock::now() - started >= deadline.remaining(started)) {
      return unexpected(HttpError{HttpErrorKind::timeout, "no answer from " + where + " within " +
                                                              std::to_string(elapsed_ms) + " ms (deadline)"});
    }
    return unexpected(HttpError{HttpErrorKind::transport, "the connection to " + where +
                                                              " ended before a complete HTTP answer"});
  default:
    return unexpected(HttpError{HttpErrorKind::transport,
                                "request to " + where + " failed: " + httplib::to_string(error)});
  }
}

} // namespace lameduck
