#pragma once

// Standard base64 (RFC 4648, with padding): etcd's JSON gateway carries keys and values as
// base64 strings, since they are arbitrary bytes.

#include "lameduck/core/expected.hpp"

#include <string>
#include <string_view>

namespace lameduck {

std::string base64_encode(std::string_view bytes);

// Refuses anything that is not padded base64.
Expected<std::string> base64_decode(std::string_view text);

} // namespace lameduck
