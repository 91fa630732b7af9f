#include "lameduck/core/loopback.hpp"

#include <arpa/inet.h>
#include <array>
#include <cstring>
#include <string>

namespace lameduck {

bool is_loopback_address(std::string_view address) {
  if (address.size() >= 2 && address.front() == '[' && address.back() == ']') {
    address = address.substr(1, address.size() - 2);
  }
  // A zone ("fe80::1%eth0") never makes an address loopback, but must not break parsing.
  const std::string text(address.substr(0, address.find('%')));

  in_addr v4{};
  if (inet_pton(AF_INET, text.c_str(), &v4) == 1) {
    return (ntohl(v4.s_addr) >> 24) == 127;
  }
  in6_addr v6{};
  if (inet_pton(AF_INET6, text.c_str(), &v6) != 1) {
    return false;
  }
  if (IN6_IS_ADDR_LOOPBACK(&v6)) {
    return true;
  }
  return IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127;
}

} // namespace lameduck
