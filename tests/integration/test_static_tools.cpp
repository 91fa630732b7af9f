// The shipped tools must run in an empty image: copied alone into an empty root, with only
// /etc/hosts and /etc/resolv.conf beside them, they start, serve and resolve "localhost".

#include "support/readyz_process.hpp"
#include "support/temp_dir.hpp"

#include <doctest/doctest.h>

#include <cstring>
#include <elf.h>
#include <filesystem>
#include <fstream>
#include <unistd.h>

using lameduck::test::ReadyzProcess;
using lameduck::test::run_process;
using lameduck::test::TempDir;
using lameduck::test::tool_path;

namespace {

// lameduck (lint) runs on workstations and in CI, not in pods; static all the same.
const std::vector<std::string> k_tools{"prestop", "readyz-toggle", "drain-wait", "lameduck"};

// "static" for a 64-bit ELF executable with no PT_INTERP (it needs no dynamic loader),
// "dynamic" for one with it, and why not otherwise: a file that is missing, short or not ELF
// must never pass for static.
std::string elf_linkage(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  Elf64_Ehdr header{};
  if (!file.read(reinterpret_cast<char*>(&header), sizeof header)) {
    return "no ELF header in " + path;
  }
  if (std::memcmp(header.e_ident, ELFMAG, SELFMAG) != 0 || header.e_ident[EI_CLASS] != ELFCLASS64 ||
      header.e_phentsize != sizeof(Elf64_Phdr)) {
    return path + " is not a 64-bit ELF file";
  }
  for (int i = 0; i < header.e_phnum; ++i) {
    Elf64_Phdr program{};
    file.seekg(static_cast<std::streamoff>(header.e_phoff + static_cast<Elf64_Off>(i) * header.e_phentsize));
    if (!file.read(reinterpret_cast<char*>(&program), sizeof program)) {
      return path + " ends inside its program headers";
    }
    if (program.p_type == PT_INTERP) {
      return "dynamic";
    }
  }
  return "static";
}

struct EmptyRoot {
  EmptyRoot() {
    for (const auto& tool : k_tools) {
      std::filesystem::copy_file(tool_path(tool), dir.file(tool));
    }
    std::filesystem::create_directory(dir.file("etc"));
    std::ofstream(dir.file("etc/hosts")) << "127.0.0.1 localhost\n::1 localhost ip6-localhost\n";
    std::ofstream(dir.file("etc/resolv.conf")) << "nameserver 127.0.0.1\n";
  }
  // chroot needs root; without it, a user namespace maps us to root.
  std::vector<std::string> prefix() const {
    if (::geteuid() == 0) {
      return {"/usr/sbin/chroot", dir.path().string()};
    }
    return {"/usr/bin/unshare", "--map-root-user", "/usr/sbin/chroot", dir.path().string()};
  }
  std::vector<std::string> command(std::vector<std::string> argv) const {
    auto full = prefix();
    full.insert(full.end(), argv.begin(), argv.end());
    return full;
  }
  TempDir dir;
};

} // namespace

TEST_CASE("the tools are static executables") {
  for (const auto& tool : k_tools) {
    CAPTURE(tool);
    CHECK(elf_linkage(tool_path(tool)) == "static");
  }
  const lameduck::test::TempDir dir;
  std::ofstream(dir.file("empty"));
  std::ofstream(dir.file("script")) << "#!/bin/sh\nexit 0\n";
  CHECK(elf_linkage(dir.file("missing")) == "no ELF header in " + dir.file("missing"));
  CHECK(elf_linkage(dir.file("empty")) == "no ELF header in " + dir.file("empty"));
  CHECK(elf_linkage(dir.file("script")) == "no ELF header in " + dir.file("script"));
  CHECK(elf_linkage("/bin/sh") == "dynamic");
}

TEST_CASE("the tools run in an empty root and speak over loopback, by name too") {
  const EmptyRoot root;
  for (const auto& tool : k_tools) {
    CAPTURE(tool);
    const auto version = run_process(root.command({"/" + tool, "--version"}));
    CHECK(version.exit_code == 0);
    CHECK(version.stdout_text.find(tool) == 0);
  }

  // yaml-cpp linked in statically too: a manifest read and linted with nothing else there.
  std::ofstream(root.dir.file("pod.yaml")) << "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n"
                                               "spec: {terminationGracePeriodSeconds: 900, containers: [{name: c}]}\n";
  const auto lint = run_process(root.command({"/lameduck", "lint", "--fail-on", "warning", "/pod.yaml"}));
  CHECK(lint.exit_code == 1);
  CHECK(lint.stdout_text.find("grace-beyond-autoscaler") != std::string::npos);

  ReadyzProcess server({}, "127.0.0.1:0", root.command({"/readyz-toggle"}));
  const auto port = std::to_string(server.port());
  CHECK(run_process(root.command({"/readyz-toggle", "off", "--url", "http://localhost:" + port})).exit_code == 0);
  const auto status = run_process(root.command({"/readyz-toggle", "status", "--url", "http://localhost:" + port}));
  CHECK(status.exit_code == 0);
  CHECK(status.stdout_text.find(R"("ready":false)") != std::string::npos);
}

// readyz-toggle and drain-wait speak plain HTTP on the pod's own network: OpenSSL, most of a
// static executable, stays out of them; prestop keeps it for the API server and etcd.
TEST_CASE("only prestop carries TLS") {
  const auto contains = [](const std::string& path, std::string_view needle) {
    std::ifstream file(path, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
    return bytes.find(needle) != std::string::npos;
  };
  // The credits in OpenSSL's assembler, which libcrypto carries wherever it is linked in.
  CHECK(contains(tool_path("prestop"), "@openssl.org"));
  CHECK_FALSE(contains(tool_path("readyz-toggle"), "@openssl.org"));
  CHECK_FALSE(contains(tool_path("drain-wait"), "@openssl.org"));

  const auto upstream = run_process({tool_path("readyz-toggle"), "serve", "--listen", "127.0.0.1:0", "--upstream",
                                     "https://127.0.0.1:8443/healthz"});
  CHECK(upstream.exit_code == 2);
  CHECK(upstream.stderr_text.find("https is not built in") != std::string::npos);
  const auto off = run_process({tool_path("readyz-toggle"), "off", "--url", "https://127.0.0.1:1", "--timeout", "1s"});
  CHECK(off.exit_code == 1);
  CHECK(off.stderr_text.find("plain HTTP only") != std::string::npos);
}
