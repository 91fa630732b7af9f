#include "lameduck/http/http_request_head.hpp"

#include <limits>

namespace lameduck {

namespace {

// RFC 9110 section 5.6.2: the characters of a token (methods, header names).
bool is_token_char(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
    return true;
  }
  switch (c) {
  case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+':
  case '-': case '.': case '^': case '_': case '`': case '|': case '~':
    return true;
  default:
    return false;
  }
}

bool is_token(std::string_view text) {
  if (text.empty()) {
    return false;
  }
  for (const char c : text) {
    if (!is_token_char(c)) {
      return false;
    }
  }
  return true;
}

char lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool equals_ignoring_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) {
      return false;
    }
  }
  return true;
}

std::string_view trim_whitespace(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) {
    text.remove_prefix(1);
  }
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) {
    text.remove_suffix(1);
  }
  return text;
}

// RFC 9112 section 2.2: a recipient may take a bare LF for a line end; a CR anywhere else is
// refused, as are the other control characters (a field value may hold HTAB).
bool has_forbidden_char(std::string_view line) {
  for (const char c : line) {
    const auto byte = static_cast<unsigned char>(c);
    if ((byte < 0x20 && c != '\t') || byte == 0x7f) {
      return true;
    }
  }
  return false;
}

// A client may send empty lines before the request line (RFC 9112 section 2.2), as some do
// after a POST body.
std::size_t skip_empty_lines(std::string_view bytes) {
  std::size_t at = 0;
  while (true) {
    if (bytes.substr(at, 2) == "\r\n") {
      at += 2;
    } else if (bytes.substr(at, 1) == "\n") {
      at += 1;
    } else {
      return at;
    }
  }
}

// Where the empty line that ends the head ends, or npos.
std::size_t find_head_end(std::string_view bytes, std::size_t start) {
  for (auto newline = bytes.find('\n', start); newline != std::string_view::npos;
       newline = bytes.find('\n', newline + 1)) {
    const bool empty_lf = newline >= start + 1 && bytes[newline - 1] == '\n';
    const bool empty_crlf = newline >= start + 2 && bytes[newline - 1] == '\r' && bytes[newline - 2] == '\n';
    if (empty_lf || empty_crlf) {
      return newline + 1;
    }
  }
  return std::string_view::npos;
}

HttpHeadRefusal bad_request(std::string_view reason) {
  return {.status = 400, .reason = reason};
}

// Splits off the next line (without its CRLF or LF).
std::string_view next_line(std::string_view& rest) {
  const auto newline = rest.find('\n');
  std::string_view line = rest.substr(0, newline);
  rest.remove_prefix(newline == std::string_view::npos ? rest.size() : newline + 1);
  if (!line.empty() && line.back() == '\r') {
    line.remove_suffix(1);
  }
  return line;
}

std::optional<HttpHeadRefusal> parse_request_line(std::string_view line, HttpRequestHead& head) {
  if (has_forbidden_char(line)) {
    return bad_request("the request line holds a control character");
  }
  const auto first_space = line.find(' ');
  const auto second_space = line.find(' ', first_space == std::string_view::npos ? line.size() : first_space + 1);
  if (second_space == std::string_view::npos || line.find(' ', second_space + 1) != std::string_view::npos) {
    return bad_request("the request line is not METHOD TARGET HTTP/1.x");
  }
  head.method = line.substr(0, first_space);
  head.target = line.substr(first_space + 1, second_space - first_space - 1);
  const std::string_view version = line.substr(second_space + 1);
  if (!is_token(head.method) || head.target.empty()) {
    return bad_request("the request line is not METHOD TARGET HTTP/1.x");
  }
  head.path = head.target.substr(0, head.target.find('?'));
  if (version == "HTTP/1.1") {
    head.http_1_0 = false;
  } else if (version == "HTTP/1.0") {
    head.http_1_0 = true;
    head.keep_alive = false;
  } else if (version.size() == 8 && version.substr(0, 5) == "HTTP/" && version[6] == '.' && version[5] >= '0' &&
             version[5] <= '9' && version[7] >= '0' && version[7] <= '9') {
    return HttpHeadRefusal{.status = 505, .reason = "only HTTP/1.0 and HTTP/1.1 are served"};
  } else {
    return bad_request("the request line is not METHOD TARGET HTTP/1.x");
  }
  return std::nullopt;
}

std::optional<HttpHeadRefusal> parse_content_length(std::string_view value, bool& seen, HttpRequestHead& head) {
  if (value.empty()) {
    return bad_request("Content-Length is not a number");
  }
  std::size_t length = 0;
  for (const char c : value) {
    if (c < '0' || c > '9') {
      return bad_request("Content-Length is not a number");
    }
    const auto digit = static_cast<std::size_t>(c - '0');
    // Anything past the largest size is too large anyway; keep it from wrapping around.
    length = length > (std::numeric_limits<std::size_t>::max() - digit) / 10 ? std::numeric_limits<std::size_t>::max()
                                                                            : length * 10 + digit;
  }
  // Two different lengths are how requests get smuggled past proxies (RFC 9112 section 6.3).
  if (seen && length != head.content_length) {
    return bad_request("two different Content-Length headers");
  }
  seen = true;
  head.content_length = length;
  return std::nullopt;
}

void parse_connection_options(std::string_view value, HttpRequestHead& head) {
  while (!value.empty()) {
    const auto comma = value.find(',');
    const std::string_view option = trim_whitespace(value.substr(0, comma));
    if (equals_ignoring_case(option, "close")) {
      head.keep_alive = false;
    } else if (equals_ignoring_case(option, "keep-alive") && head.http_1_0) {
      head.keep_alive = true;
    }
    value.remove_prefix(comma == std::string_view::npos ? value.size() : comma + 1);
  }
}

std::optional<HttpHeadRefusal> parse_fields(std::string_view fields, HttpRequestHead& head) {
  bool content_length_seen = false;
  bool close_asked = false;
  while (!fields.empty()) {
    const std::string_view line = next_line(fields);
    if (line.empty()) {
      break; // the empty line that ends the head
    }
    if (line.front() == ' ' || line.front() == '\t') {
      return bad_request("obsolete line folding in a header");
    }
    if (has_forbidden_char(line)) {
      return bad_request("a header holds a control character");
    }
    const auto colon = line.find(':');
    if (colon == std::string_view::npos || !is_token(line.substr(0, colon))) {
      return bad_request("a header line is not NAME: VALUE");
    }
    const std::string_view name = line.substr(0, colon);
    const std::string_view value = trim_whitespace(line.substr(colon + 1));
    if (equals_ignoring_case(name, "content-length")) {
      if (auto refused = parse_content_length(value, content_length_seen, head)) {
        return refused;
      }
    } else if (equals_ignoring_case(name, "transfer-encoding")) {
      // The endpoints take at most a small JSON object, which every client sends with a
      // Content-Length; not decoding chunked bodies keeps this parser small.
      return HttpHeadRefusal{.status = 411, .reason = "send the body with a Content-Length"};
    } else if (equals_ignoring_case(name, "connection")) {
      parse_connection_options(value, head);
      close_asked = close_asked || !head.keep_alive;
    }
  }
  // "Connection: close" wins over a keep-alive named in another Connection header.
  if (close_asked) {
    head.keep_alive = false;
  }
  return std::nullopt;
}

// A request line that has begun with a byte no method has is refused at once: a TLS
// handshake or other garbage then costs one read, not the head's deadline.
bool starts_like_a_method(std::string_view bytes) {
  for (const char c : bytes) {
    if (c == ' ') {
      return true;
    }
    if (!is_token_char(c)) {
      return false;
    }
  }
  return true;
}

} // namespace

HttpHeadParse parse_request_head(std::string_view bytes, std::size_t max_head_bytes) {
  const std::size_t start = skip_empty_lines(bytes);
  const std::size_t end = find_head_end(bytes, start);
  if ((end == std::string_view::npos ? bytes.size() : end) > max_head_bytes) {
    return HttpHeadRefusal{.status = 431, .reason = "the request head is too large"};
  }
  if (end == std::string_view::npos) {
    if (!starts_like_a_method(bytes.substr(start))) {
      return bad_request("this is not an HTTP request");
    }
    return HttpHeadIncomplete{};
  }
  HttpRequestHead head;
  head.head_bytes = end;
  std::string_view rest = bytes.substr(start, end - start);
  if (auto refused = parse_request_line(next_line(rest), head)) {
    return *refused;
  }
  if (auto refused = parse_fields(rest, head)) {
    return *refused;
  }
  return head;
}

} // namespace lameduck
