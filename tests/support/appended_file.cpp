#include "support/appended_file.hpp"

#include "lameduck/core/fd_wait.hpp"

#include <algorithm>
#include <array>
#include <fstream>
#include <poll.h>
#include <stdexcept>
#include <sys/inotify.h>
#include <unistd.h>

namespace lameduck::test {

std::optional<std::string> wait_for_appended_line(const std::filesystem::path& path,
                                                  const std::function<bool(const std::string&)>& matches,
                                                  const Deadline& deadline) {
  const int notify = ::inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
  if (notify < 0 || ::inotify_add_watch(notify, path.c_str(), IN_MODIFY) < 0) {
    if (notify >= 0) {
      ::close(notify);
    }
    throw std::runtime_error("cannot watch " + path.string());
  }
  std::ifstream in(path, std::ios::binary);
  std::string partial;
  std::optional<std::string> found;
  for (;;) {
    // Read after the watch is in place, so that no append falls between the two.
    std::array<char, 65536> chunk;
    while (!found) {
      in.read(chunk.data(), chunk.size());
      const auto got = in.gcount();
      if (got <= 0) {
        break;
      }
      partial.append(chunk.data(), static_cast<std::size_t>(got));
      std::size_t start = 0;
      for (auto end = partial.find('\n'); end != std::string::npos; end = partial.find('\n', start)) {
        std::string line = partial.substr(start, end - start);
        start = end + 1;
        if (matches(line)) {
          found = std::move(line);
          break;
        }
      }
      partial.erase(0, start);
    }
    in.clear();
    if (found || deadline.expired()) {
      break;
    }
    if (const auto ready = wait_for_fd(notify, POLLIN, deadline); ready && *ready) {
      std::array<char, 4096> events;
      while (::read(notify, events.data(), events.size()) > 0) {
      }
    }
  }
  ::close(notify);
  return found;
}

} // namespace lameduck::test
