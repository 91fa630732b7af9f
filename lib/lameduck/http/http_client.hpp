#pragma once

// The one place that talks to cpp-httplib's client: everything else sees these types. Every
// request is bounded by a Deadline as a whole (connect, TLS, headers and body), not only per
// read, so a peer that drips one byte a second cannot hold the caller.

#include "lameduck/core/deadline.hpp"
#include "lameduck/core/expected.hpp"
#include "lameduck/core/url.hpp"

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace lameduck {

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
  std::string method = "GET";
  std::string target = "/"; // path and query
  HttpHeaders headers;
  std::string body;
  std::string content_type; // sent when the body is not empty
};

struct HttpResponse {
  int status = 0;
  HttpHeaders headers;
  std::string body;

  // The first header of that name, compared without case; empty when absent.
  std::string header(std::string_view name) const;
};

enum class HttpErrorKind {
  refused,   // nothing listens there (yet)
  timeout,   // the deadline or the connect timeout came first
  tls,       // handshake or certificate verification failed
  transport, // the connection broke, or the answer was not HTTP
  too_large, // the body passed HttpClientOptions::max_body_bytes
};

struct HttpError {
  HttpErrorKind kind = HttpErrorKind::transport;
  std::string message;
};

inline constexpr auto k_default_connect_timeout = std::chrono::milliseconds{1000};
inline constexpr std::size_t k_default_max_body_bytes = std::size_t{8} << 20;

struct HttpClientOptions {
  // For https: the CA bundle that must have signed the server's certificate. Empty means the
  // system store. Verification is never turned off.
  std::string ca_file;
  // For https peers that ask for a client certificate (etcd with --client-cert-auth).
  std::string client_cert_file;
  std::string client_key_file;
  Duration connect_timeout = k_default_connect_timeout;
  std::size_t max_body_bytes = k_default_max_body_bytes;
  std::string user_agent;
  bool keep_alive = true;
};

class HttpClient {
public:
  // Called with each piece of the body as it arrives; return false to stop reading, which
  // ends the exchange without an error.
  using BodyReceiver = std::function<bool(std::string_view piece)>;

  explicit HttpClient(Url origin, HttpClientOptions options = {});
  ~HttpClient();
  HttpClient(HttpClient&&) noexcept;
  HttpClient& operator=(HttpClient&&) noexcept;

  const Url& origin() const { return m_origin; }

  // False in the tools built without OpenSSL (readyz-toggle, drain-wait): their https
  // requests fail with an error that says so.
  static bool supports_https();

  Expected<HttpResponse, HttpError> send(const HttpRequest& request, const Deadline& deadline);

  // Like send, but a 2xx body goes to `receiver` instead of into the response (for watches
  // and long-polls). Bodies of other statuses are kept in the response as usual, so that
  // error objects can be read.
  Expected<HttpResponse, HttpError> stream(const HttpRequest& request, const Deadline& deadline,
                                           const BodyReceiver& receiver);

private:
  struct Impl;

  Url m_origin;
  HttpClientOptions m_options;
  std::unique_ptr<Impl> m_impl;
};


} // namespace lameduck
