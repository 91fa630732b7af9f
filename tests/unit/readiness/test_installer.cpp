#include "lameduck/readiness/installer.hpp"

#include "lameduck/core/durable_file.hpp"
#include "support/temp_dir.hpp"

#include <doctest/doctest.h>

#include <sys/stat.h>

using lameduck::install_tools;
using lameduck::test::TempDir;

TEST_CASE("install_tools") {
  const TempDir from;
  const TempDir to;
  for (const char* name : lameduck::k_tool_names) {
    REQUIRE(lameduck::write_file_atomically(from.file(name), std::string("binary of ") + name, 0700));
  }

  SUBCASE("copies the three tools with mode 0755, into a directory it creates, and again") {
    const std::string target = to.file("bin");
    for (int round = 0; round < 2; ++round) {
      const auto written = install_tools(from.path(), target);
      REQUIRE(written);
      CHECK(written->size() == 3);
    }
    for (const char* name : lameduck::k_tool_names) {
      const std::string path = target + "/" + name;
      CHECK(lameduck::read_small_file(path)->content == std::string("binary of ") + name);
      struct stat info {};
      REQUIRE(::stat(path.c_str(), &info) == 0);
      CHECK((info.st_mode & 0777) == 0755);
    }
  }
  SUBCASE("a tool missing beside the installer is an error naming it") {
    std::filesystem::remove(from.file("drain-wait"));
    const auto written = install_tools(from.path(), to.path());
    REQUIRE_FALSE(written);
    CHECK(written.error().message.find("drain-wait") != std::string::npos);
  }
  SUBCASE("own_directory is where this test binary lives") {
    CHECK(std::filesystem::exists(lameduck::own_directory().value() + "/unit_tests"));
  }
}
