#include "lameduck/core/durable_file.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <sys/stat.h>
#include <unistd.h>

namespace lameduck {

namespace {

std::string describe_errno(const std::string& what, const std::string& path) {
  return what + " " + path + ": " + std::strerror(errno);
}

class FileDescriptor {
public:
  explicit FileDescriptor(int fd) : m_fd(fd) {}
  ~FileDescriptor() {
    if (m_fd >= 0) {
      ::close(m_fd);
    }
  }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  int get() const { return m_fd; }
  // Closes now, reporting the error that a deferred write may only show here.
  bool close() {
    const int fd = m_fd;
    m_fd = -1;
    return ::close(fd) == 0;
  }

private:
  int m_fd;
};

bool write_all(int fd, std::string_view content) {
  while (!content.empty()) {
    const ssize_t written = ::write(fd, content.data(), content.size());
    if (written < 0) {
      if (errno == EINTR) {
        continue;
      }
      return false;
    }
    content.remove_prefix(static_cast<std::size_t>(written));
  }
  return true;
}

} // namespace

Expected<Done> write_file_atomically(const std::string& path, std::string_view content, mode_t mode) {
  const std::filesystem::path target(path);
  const std::filesystem::path directory = target.has_parent_path() ? target.parent_path() : ".";
  const std::string temporary = (directory / ("." + target.filename().string() + ".XXXXXX")).string();

  std::string name_buffer = temporary;
  FileDescriptor file(::mkstemp(name_buffer.data()));
  if (file.get() < 0) {
    return unexpected(describe_errno("cannot create a temporary file for", path));
  }
  const auto fail = [&](const std::string& what) {
    auto error = unexpected(describe_errno(what, path));
    ::unlink(name_buffer.c_str());
    return error;
  };
  if (::fchmod(file.get(), mode) != 0) {
    return fail("cannot set the mode of");
  }
  if (!write_all(file.get(), content)) {
    return fail("cannot write");
  }
  if (::fsync(file.get()) != 0) {
    return fail("cannot fsync");
  }
  if (!file.close()) {
    return fail("cannot close");
  }
  if (::rename(name_buffer.c_str(), path.c_str()) != 0) {
    return fail("cannot rename over");
  }
  // The rename is durable only once the directory entry is.
  FileDescriptor dir(::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir.get() < 0 || ::fsync(dir.get()) != 0) {
    return unexpected(describe_errno("cannot fsync the directory of", path));
  }
  return Done{};
}

Expected<FileRead> read_small_file(const std::string& path, std::size_t max_bytes) {
  FileDescriptor file(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (file.get() < 0) {
    if (errno == ENOENT) {
      return FileRead{.missing = true, .content = {}};
    }
    return unexpected(describe_errno("cannot open", path));
  }
  FileRead read;
  char buffer[4096];
  for (;;) {
    const ssize_t got = ::read(file.get(), buffer, sizeof buffer);
    if (got < 0) {
      if (errno == EINTR) {
        continue;
      }
      return unexpected(describe_errno("cannot read", path));
    }
    if (got == 0) {
      return read;
    }
    read.content.append(buffer, static_cast<std::size_t>(got));
    if (read.content.size() > max_bytes) {
      return unexpected(path + " is larger than " + std::to_string(max_bytes) + " bytes");
    }
  }
}

} // namespace lameduck
