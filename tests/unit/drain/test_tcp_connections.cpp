#include "lameduck/drain/tcp_connections.hpp"

#include "support/sockets.hpp"

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

using lameduck::parse_proc_net_tcp;

TEST_CASE("parse_proc_net_tcp") {
  SUBCASE("IPv4 and IPv6 tables as the kernel writes them") {
    const auto entries = parse_proc_net_tcp(
        "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
        "   0: 0100007F:1F2B 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 12345 1\n"
        "   1: 0100007F:1F2B 0100007F:C350 01 00000000:00000000 00:00000000 00000000     0        0 12346 1\n"
        "   2: 00000000000000000000000001000000:1F90 00000000000000000000000001000000:D2F0 01 00000000:00000000 "
        "00:00000000 00000000 0 0 0 1\n");
    REQUIRE(entries.size() == 3);
    CHECK(entries[0].local_port == 7979);
    CHECK(entries[0].state == 0x0A);
    CHECK(entries[1].state == lameduck::k_tcp_established);
    CHECK(entries[2].local_port == 8080);
    CHECK(entries[0].local_address == "127.0.0.1");
    CHECK(entries[0].remote_address == "0.0.0.0");
    CHECK(entries[0].remote_port == 0);
    CHECK(entries[1].remote_address == "127.0.0.1");
    CHECK(entries[1].remote_port == 50000);
    CHECK(entries[2].local_address == "::1");
    CHECK(entries[2].remote_address == "::1");
    CHECK(entries[2].remote_port == 54000);
  }
  SUBCASE("addresses: the kernel's 32-bit words in this machine's byte order (x86 here)") {
    const auto entries = parse_proc_net_tcp(
        "   0: 000000FD000000000000000003000000:1F90 0000000000000000FFFF00000900000A:A012 01\n"
        "   1: 0302010A:1F90 0708090A:A012 06\n");
    REQUIRE(entries.size() == 2);
    CHECK(entries[0].local_address == "fd00::3");
    CHECK(entries[0].remote_address == "10.0.0.9"); // IPv4-mapped, written as IPv4
    CHECK(entries[0].remote_port == 40978);
    CHECK(entries[1].local_address == "10.1.2.3");
    CHECK(entries[1].remote_address == "10.9.8.7");
  }
  SUBCASE("torn, empty and hostile lines are skipped") {
    CHECK(parse_proc_net_tcp("").empty());
    CHECK(parse_proc_net_tcp("   0: 0100007F").empty());
    CHECK(parse_proc_net_tcp("   0: 0100007F:ZZZZ 00000000:0000 0A\n").empty());
    CHECK(parse_proc_net_tcp("   0: 0100007F:FFFFFFF 00000000:0000 0A\n").empty());
    CHECK(parse_proc_net_tcp(std::string(1000, ':')).empty());
    CHECK(parse_proc_net_tcp("\n\n   1: 0100007F:0050 0100007F:C350 01\n").size() == 1);
    CHECK(parse_proc_net_tcp("   0: 0100007:0050 0100007F:C350 01\n").empty());
    CHECK(parse_proc_net_tcp("   0: 0100007F:0050 0100007G:C350 01\n").empty());
    CHECK(parse_proc_net_tcp("   0: 0100007F:0050 +100007F:C350 01\n").empty());
    CHECK(parse_proc_net_tcp("   0: 0100007F:0050 0100007F:10000 01\n").empty());
  }
}

TEST_CASE("count_established_connections") {
  // A real listening socket and a connection to it, counted from /proc/net/tcp.
  const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  REQUIRE(::bind(listener, reinterpret_cast<sockaddr*>(&address), length) == 0);
  REQUIRE(::listen(listener, 4) == 0);
  ::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length);
  const int port = ntohs(address.sin_port);

  CHECK(lameduck::count_established_connections({port}).value() == 0);
  {
    const lameduck::test::TcpConnection client("127.0.0.1", port);
    const int accepted = ::accept(listener, nullptr, nullptr);
    CHECK(lameduck::count_established_connections({port}).value() == 1);
    CHECK(lameduck::count_established_connections({port + 1}).value() == 0);
    ::close(accepted);
  }
  ::close(listener);
}

TEST_CASE("parse_proc_net_tcp refuses signed fields (found by fuzzing)") {
  CHECK(parse_proc_net_tcp("   0: 0100007F:-1 00000000:0000 0A\n").empty());
  CHECK(parse_proc_net_tcp("   0: 0100007F:0050 00000000:0000 -1\n").empty());
}
