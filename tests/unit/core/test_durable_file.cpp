#include "lameduck/core/durable_file.hpp"

#include "support/temp_dir.hpp"

#include <doctest/doctest.h>

#include <sys/stat.h>

using lameduck::read_small_file;
using lameduck::write_file_atomically;
using lameduck::test::TempDir;

TEST_CASE("durable files") {
  const TempDir dir;
  const std::string path = dir.file("state.json");

  SUBCASE("a missing file is reported as missing, not as an error") {
    const auto read = read_small_file(path);
    REQUIRE(read);
    CHECK(read->missing);
  }
  SUBCASE("written content reads back, with the mode asked for, and a rewrite replaces it") {
    REQUIRE(write_file_atomically(path, "first", 0600));
    REQUIRE(write_file_atomically(path, "second", 0600));
    CHECK(read_small_file(path)->content == "second");
    struct stat info {};
    REQUIRE(::stat(path.c_str(), &info) == 0);
    CHECK((info.st_mode & 0777) == 0600);
    // No temporary file is left beside it.
    CHECK(std::distance(std::filesystem::directory_iterator(dir.path()), std::filesystem::directory_iterator{}) == 1);
  }
  SUBCASE("a file over the size limit is an error naming it") {
    REQUIRE(write_file_atomically(path, std::string(100, 'x')));
    const auto read = read_small_file(path, 10);
    REQUIRE_FALSE(read);
    CHECK(read.error().message.find(path) != std::string::npos);
  }
  SUBCASE("a directory that does not exist is an error naming the path") {
    const auto written = write_file_atomically(dir.file("no/such/dir/file"), "x");
    REQUIRE_FALSE(written);
    CHECK(written.error().message.find("no/such/dir/file") != std::string::npos);
  }
}
