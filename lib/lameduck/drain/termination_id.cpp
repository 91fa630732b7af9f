#include "lameduck/drain/termination_id.hpp"

#include "lameduck/core/durable_file.hpp"
#include "lameduck/core/text.hpp"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <random>
#include <unistd.h>

namespace lameduck {

std::string random_id() {
  std::random_device device; // getrandom(2)
  static constexpr char k_hex[] = "0123456789abcdef";
  std::string id;
  for (int i = 0; i < 4; ++i) {
    auto word = device();
    for (int digit = 0; digit < 8; ++digit, word >>= 4) {
      id += k_hex[word & 0xf];
    }
  }
  return id;
}

Expected<std::string> resolve_termination_id(const std::string& flag, const std::string& pod_uid,
                                             const std::string& state_dir) {
  if (!flag.empty()) {
    return flag;
  }
  if (!pod_uid.empty()) {
    return pod_uid;
  }
  std::error_code error;
  std::filesystem::create_directories(state_dir, error);
  if (error) {
    return unexpected("cannot create the state directory " + state_dir + ": " + error.message());
  }
  const std::string path = (std::filesystem::path(state_dir) / "termination-id").string();
  // Two deliveries may race to create it: each writes its own candidate, link(2) lets exactly
  // one become the file, and both then read the winner.
  const std::string candidate = path + "." + random_id();
  if (auto written = write_file_atomically(candidate, random_id() + "\n"); !written) {
    return unexpected(written.error());
  }
  const bool linked = ::link(candidate.c_str(), path.c_str()) == 0;
  const int link_errno = errno;
  ::unlink(candidate.c_str());
  if (!linked && link_errno != EEXIST) {
    return unexpected("cannot create " + path + ": " + std::strerror(link_errno));
  }
  const auto read = read_small_file(path, 1024);
  if (!read || read->missing) {
    return unexpected("cannot read " + path);
  }
  const std::string id = trim_blanks(read->content);
  if (id.empty()) {
    return unexpected(path + " is empty");
  }
  return id;
}

} // namespace lameduck
