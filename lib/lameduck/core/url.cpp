#include "lameduck/core/url.hpp"

#include <charconv>

namespace lameduck {

std::string join_host_port(std::string_view host, int port) {
  const bool is_v6 = host.find(':') != std::string_view::npos;
  std::string out;
  out.append(is_v6 ? "[" : "").append(host).append(is_v6 ? "]" : "");
  out.append(":").append(std::to_string(port));
  return out;
}

std::string Url::origin() const {
  return scheme + "://" + join_host_port(host, port);
}

Expected<Url> parse_url(std::string_view text) {
  const auto fail = [&](std::string_view why) {
    return unexpected("invalid URL \"" + std::string(text) + "\": " + std::string(why));
  };
  Url url;
  const auto scheme_end = text.find("://");
  if (scheme_end == std::string_view::npos) {
    return fail("expected http://host[:port]/path");
  }
  url.scheme = std::string(text.substr(0, scheme_end));
  if (url.scheme == "http") {
    url.port = 80;
  } else if (url.scheme == "https") {
    url.port = 443;
  } else {
    return fail("the scheme must be http or https");
  }

  std::string_view rest = text.substr(scheme_end + 3);
  const auto target_start = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, target_start);
  const std::string_view target = target_start == std::string_view::npos ? "" : rest.substr(target_start);
  url.target = target.empty() || target.front() != '/' ? "/" : "";
  url.target.append(target);
  if (const auto fragment = url.target.find('#'); fragment != std::string::npos) {
    url.target.erase(fragment);
  }
  if (authority.find('@') != std::string_view::npos) {
    return fail("credentials in URLs are not supported");
  }

  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) {
      return fail("unclosed [ in the host");
    }
    url.host = std::string(authority.substr(1, close - 1));
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty() && after.front() != ':') {
      return fail("unexpected text after the IPv6 host");
    }
    port_text = after.empty() ? after : after.substr(1);
  } else {
    const auto colon = authority.rfind(':');
    url.host = std::string(authority.substr(0, colon));
    port_text = colon == std::string_view::npos ? std::string_view{} : authority.substr(colon + 1);
    if (url.host.find(':') != std::string::npos) {
      return fail("write IPv6 hosts in brackets, like http://[::1]:7979");
    }
  }
  if (url.host.empty()) {
    return fail("the host is missing");
  }
  if (!port_text.empty()) {
    int port = 0;
    const auto [end, error] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (error != std::errc{} || end != port_text.data() + port_text.size() || port < 1 || port > 65535) {
      return fail("the port must be a number from 1 to 65535");
    }
    url.port = port;
  }
  return url;
}

} // namespace lameduck
