#pragma once

// Replacing a small file so that a crash or power loss leaves either the old or the new
// content, never a torn mix: write a temporary file beside it, fsync it, rename it over the
// target, fsync the directory.

#include "lameduck/core/expected.hpp"

#include <string>
#include <string_view>
#include <sys/types.h>

namespace lameduck {

Expected<Done> write_file_atomically(const std::string& path, std::string_view content, mode_t mode = 0644);

// The whole file, or an error naming the path; `missing` is set when it does not exist.
struct FileRead {
  bool missing = false;
  std::string content;
};
Expected<FileRead> read_small_file(const std::string& path, std::size_t max_bytes = std::size_t{1} << 20);

} // namespace lameduck
