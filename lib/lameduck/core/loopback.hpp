#pragma once

// Only processes in the pod may flip readiness: loopback peers are 127.0.0.0/8 and ::1, also
// when a dual-stack socket shows an IPv4 peer as ::ffff:127.x.y.z.

#include <string_view>

namespace lameduck {

bool is_loopback_address(std::string_view address);

} // namespace lameduck
