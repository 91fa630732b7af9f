// /proc/net/tcp parsing: any bytes, never a crash, and every entry in range.

#include "fuzz_target.hpp"
#include "lameduck/drain/tcp_connections.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  for (const auto& entry : lameduck::parse_proc_net_tcp(lameduck::fuzz::as_text(data, size))) {
    lameduck::fuzz::require(entry.local_port >= 0 && entry.local_port <= 0xffff);
    lameduck::fuzz::require(entry.state >= 0);
    lameduck::fuzz::require(entry.remote_port >= 0 && entry.remote_port <= 0xffff);
    lameduck::fuzz::require(!entry.local_address.empty() && !entry.remote_address.empty());
  }
  return 0;
}
