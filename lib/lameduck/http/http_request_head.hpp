#pragma once

// The head of an HTTP/1.x request, read only as far as readyz-toggle's endpoints need: the
// method, the target, the version, and the three headers that decide how the bytes after the
// head are framed (Content-Length, Transfer-Encoding, Connection). Everything else a client
// sends is skipped, never stored. Hostile input is normal input here: the pod network reaches
// this parser, so it is bounded in size, allocates nothing and is fuzzed.

#include <cstddef>
#include <optional>
#include <string_view>
#include <variant>

namespace lameduck {

inline constexpr std::size_t k_max_request_head_bytes = 8192;

struct HttpRequestHead {
  std::string_view method;
  std::string_view target; // as sent, query included
  std::string_view path;   // the target up to '?'
  bool http_1_0 = false;
  // RFC 9112 section 6.3: without Content-Length (and without Transfer-Encoding, which is
  // refused) the body is empty.
  std::size_t content_length = 0;
  bool keep_alive = true;
  std::size_t head_bytes = 0; // up to and including the empty line that ends the head
};

// Why a head cannot be served; the connection is answered `status` and closed.
struct HttpHeadRefusal {
  int status = 400;
  std::string_view reason;
};

// Not enough bytes yet: read more (within the head's deadline) and parse again.
struct HttpHeadIncomplete {};

using HttpHeadParse = std::variant<HttpHeadIncomplete, HttpRequestHead, HttpHeadRefusal>;

// Parses the head at the start of `bytes`. The views in the result point into `bytes`.
// A head longer than `max_head_bytes` is refused with 431, complete or not.
HttpHeadParse parse_request_head(std::string_view bytes, std::size_t max_head_bytes = k_max_request_head_bytes);

} // namespace lameduck
