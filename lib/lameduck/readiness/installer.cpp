#include "lameduck/readiness/installer.hpp"

#include "lameduck/core/durable_file.hpp"

#include <filesystem>
#include <system_error>

namespace lameduck {

namespace {

// The tools are a few megabytes each.
constexpr std::size_t k_max_tool_bytes = std::size_t{256} << 20;

} // namespace

Expected<std::string> own_directory() {
  std::error_code error;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", error);
  if (error) {
    return unexpected("cannot find this executable through /proc/self/exe: " + error.message());
  }
  return self.parent_path().string();
}

Expected<std::vector<std::string>> install_tools(const std::string& from, const std::string& to) {
  std::error_code error;
  std::filesystem::create_directories(to, error);
  if (error) {
    return unexpected("cannot create " + to + ": " + error.message());
  }
  std::vector<std::string> written;
  for (const char* name : k_tool_names) {
    const std::string source = (std::filesystem::path(from) / name).string();
    const std::string target = (std::filesystem::path(to) / name).string();
    const auto content = read_small_file(source, k_max_tool_bytes);
    if (!content) {
      return unexpected(content.error());
    }
    if (content->missing) {
      return unexpected(source + " does not exist: the three tools must sit in one directory");
    }
    if (auto done = write_file_atomically(target, content->content, 0755); !done) {
      return unexpected(done.error());
    }
    written.push_back(target);
  }
  return written;
}

} // namespace lameduck
