#pragma once

// The few URL forms the tools take: http(s)://host[:port][/path][?query], IPv6 hosts in
// brackets. Anything else is a configuration error with a message naming what is wrong.

#include "lameduck/core/expected.hpp"

#include <string>
#include <string_view>

namespace lameduck {

struct Url {
  std::string scheme; // "http" or "https"
  std::string host;   // without brackets
  int port = 0;       // the scheme's default when the URL names none
  std::string target; // path and query, at least "/"

  // "http://[::1]:7979", without the target.
  std::string origin() const;
  // The whole URL again.
  std::string text() const { return origin() + target; }
};

Expected<Url> parse_url(std::string_view text);

// "host:port" with brackets for IPv6 hosts, as in URLs and listen addresses.
std::string join_host_port(std::string_view host, int port);

} // namespace lameduck
