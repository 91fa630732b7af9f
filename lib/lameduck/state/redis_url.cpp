#include "lameduck/state/redis_url.hpp"

#include "lameduck/core/url.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace lameduck {
namespace {

Expected<int> parse_number(std::string_view text, int low, int high, const std::string& what) {
  int value = 0;
  const auto parsed = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || parsed.ec != std::errc{} || parsed.ptr != text.data() + text.size() || value < low ||
      value > high) {
    return unexpected(what + " must be a number from " + std::to_string(low) + " to " + std::to_string(high) +
                      ", not \"" + std::string(text) + "\"");
  }
  return value;
}

// A DNS name or an IPv4 address.
bool valid_host_name(std::string_view host) {
  return !host.empty() && std::all_of(host.begin(), host.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '.' || c == '-' || c == '_';
  });
}

// What may stand between brackets: an IPv6 address (it has a colon, which is why it prints back
// between brackets), then perhaps a %zone naming an interface.
bool valid_ipv6_host(std::string_view host) {
  const auto percent = host.find('%');
  const std::string_view address = host.substr(0, percent);
  const bool address_ok = address.find(':') != std::string_view::npos &&
                          std::all_of(address.begin(), address.end(), [](char c) {
                            return std::isxdigit(static_cast<unsigned char>(c)) != 0 || c == ':' || c == '.';
                          });
  return address_ok && (percent == std::string_view::npos || valid_host_name(host.substr(percent + 1)));
}

} // namespace

std::string RedisUrl::text() const {
  return "redis://" + (user.empty() ? "" : user + "@") + join_host_port(host, port) + "/" + std::to_string(database);
}

Expected<RedisUrl> parse_redis_url(const std::string& url) {
  if (url.starts_with("rediss://")) {
    return unexpected(std::string("rediss:// (Redis over TLS) is not supported yet: use redis:// on a trusted network"));
  }
  if (!url.starts_with("redis://")) {
    return unexpected("not a redis:// URL: " + url);
  }
  RedisUrl parsed;
  std::string_view rest = std::string_view(url).substr(8);
  std::string_view query;
  if (const auto mark = rest.find('?'); mark != std::string_view::npos) {
    query = rest.substr(mark + 1);
    rest = rest.substr(0, mark);
  }
  std::string_view path;
  if (const auto slash = rest.find('/'); slash != std::string_view::npos) {
    path = rest.substr(slash + 1);
    rest = rest.substr(0, slash);
  }
  if (const auto at = rest.rfind('@'); at != std::string_view::npos) {
    const std::string_view user = rest.substr(0, at);
    if (user.find(':') != std::string_view::npos) {
      return unexpected(std::string("a password in a redis:// URL ends up in logs and process listings: use ?password-file=PATH"));
    }
    if (!valid_host_name(user)) { // an ACL user name: the same letters as a host name
      return unexpected("not a user name: \"" + std::string(user) + "\"");
    }
    parsed.user = std::string(user);
    rest = rest.substr(at + 1);
  }
  std::string_view host = rest;
  const bool bracketed = host.starts_with('[');
  if (bracketed) {
    const auto close = host.find(']');
    if (close == std::string_view::npos) {
      return unexpected("an IPv6 host without its closing bracket in " + url);
    }
    if (close + 1 < host.size()) {
      if (host[close + 1] != ':') {
        return unexpected("junk after the IPv6 host in " + url);
      }
      auto port = parse_number(host.substr(close + 2), 1, 65535, "the port");
      if (!port) {
        return unexpected(port.error());
      }
      parsed.port = *port;
    }
    host = host.substr(1, close - 1);
  } else if (const auto colon = host.rfind(':'); colon != std::string_view::npos) {
    auto port = parse_number(host.substr(colon + 1), 1, 65535, "the port");
    if (!port) {
      return unexpected(port.error());
    }
    parsed.port = *port;
    host = host.substr(0, colon);
  }
  if (host.empty()) {
    return unexpected("no host in " + url);
  }
  if (bracketed ? !valid_ipv6_host(host) : !valid_host_name(host)) {
    return unexpected("not a host name or address: \"" + std::string(host) + "\"");
  }
  parsed.host = std::string(host);
  if (!path.empty()) {
    auto database = parse_number(path, 0, 15, "the database");
    if (!database) {
      return unexpected(database.error());
    }
    parsed.database = *database;
  }
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    const auto equals = pair.find('=');
    const std::string_view key = pair.substr(0, equals);
    const std::string_view value = equals == std::string_view::npos ? std::string_view() : pair.substr(equals + 1);
    if (key == "password-file" && !value.empty()) {
      parsed.password_file = std::string(value);
    } else if (key == "prefix" && !value.empty()) {
      parsed.prefix = std::string(value);
    } else {
      return unexpected("unknown redis:// URL parameter \"" + std::string(pair) +
                        "\" (password-file=PATH and prefix=KEYS are known)");
    }
  }
  return parsed;
}

} // namespace lameduck
