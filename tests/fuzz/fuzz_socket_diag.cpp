// inet_diag dump buffers: any bytes, never a crash or a read past a length, and every socket
// returned whole.

#include "fuzz_target.hpp"
#include "lameduck/drain/socket_diag.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto batch = lameduck::parse_sock_diag_messages({data, size});
  if (!batch) {
    lameduck::fuzz::require(!batch.error().message.empty());
    return 0;
  }
  for (const auto& socket : batch->sockets) {
    lameduck::fuzz::require(socket.local_port >= 0 && socket.local_port <= 0xffff);
    lameduck::fuzz::require(socket.peer_port >= 0 && socket.peer_port <= 0xffff);
    lameduck::fuzz::require(!socket.local_address.empty() && !socket.peer_address.empty());
    lameduck::fuzz::require(socket.state >= 0 && socket.state <= 0xff);
  }
  return 0;
}
