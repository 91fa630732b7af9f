#pragma once

// The id every delivery of the hook to one pod sends, so the agent can make its drain
// idempotent: --termination-id, else POD_UID, else a random id kept in the state directory
// (the first delivery creates it, later ones read it back).

#include "lameduck/core/expected.hpp"

#include <string>

namespace lameduck {

// Where prestop and drain-wait keep what must outlive one delivery of the hook.
inline constexpr const char* k_default_state_dir = "/tmp/lameduck";

Expected<std::string> resolve_termination_id(const std::string& flag, const std::string& pod_uid,
                                             const std::string& state_dir);

// 32 random hex digits.
std::string random_id();

} // namespace lameduck
