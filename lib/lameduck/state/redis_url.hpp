#pragma once

// redis://[USER@]HOST[:PORT][/DB][?password-file=PATH&prefix=KEYS] — the password is read
// from a file (a mounted Secret), never written in the URL. rediss:// (TLS) is refused for
// now, saying so: it would come with hiredis' SSL context (libhiredis_ssl), the CA from a file.

#include "lameduck/core/expected.hpp"

#include <string>

namespace lameduck {

struct RedisUrl {
  std::string host = "127.0.0.1";
  int port = 6379;
  int database = 0;
  std::string user;           // ACL user; empty for the default one
  std::string password_file;  // empty: no AUTH
  std::string prefix = "lameduck:";  // of every key the store writes

  // The URL again, without the password file's path.
  std::string text() const;
};

Expected<RedisUrl> parse_redis_url(const std::string& url);

} // namespace lameduck
