#pragma once

// `readyz-toggle off|on|status`: flips or reads the switch of a running server and returns
// once the server has confirmed, retrying while it is still starting, within a short bound.

#include "lameduck/core/deadline.hpp"
#include "lameduck/core/expected.hpp"
#include "lameduck/core/url.hpp"
#include "lameduck/readiness/readiness_state.hpp"

#include <chrono>
#include <string>

namespace lameduck {

inline constexpr const char* k_default_readyz_url = "http://127.0.0.1:7979";
inline constexpr auto k_default_switch_timeout = std::chrono::seconds{2};

enum class SwitchRequest { disable, enable, status };

// `base` is the server's URL ("http://127.0.0.1:7979"); `reason` goes with disable and
// enable. A refused connection is retried until the deadline.
Expected<ReadinessState> request_readiness_switch(const Url& base, SwitchRequest request, const std::string& reason,
                                                  const Deadline& deadline);

} // namespace lameduck
