#pragma once

// The readiness switch: whether this pod should receive new traffic, why, and since when.
// prestop turns it off; with a state file it survives a restart of the server, so a
// restarted sidecar cannot put a draining pod back into its Services.

#include "lameduck/core/expected.hpp"

#include <mutex>
#include <optional>
#include <string>

namespace lameduck {

struct ReadinessState {
  bool ready = true;
  std::string reason;
  std::string since; // RFC 3339, UTC

  bool operator==(const ReadinessState&) const = default;
};

std::string readiness_state_json(const ReadinessState& state);
// Parses what readiness_state_json wrote; anything else is an error.
Expected<ReadinessState> parse_readiness_state(const std::string& text);

class ReadinessSwitch {
public:
  struct Change {
    ReadinessState state;
    bool changed = false;
    // Set when the state file could not be written: the switch still flipped in memory,
    // because answering 503 now matters more than remembering it across a restart.
    std::optional<std::string> save_error;
  };

  // Starts from the state file when it holds a state, else from `start_ready`. A state file
  // that cannot be read or parsed starts the switch off (fail safe) and says why in
  // load_problem().
  ReadinessSwitch(std::string state_file, bool start_ready);

  ReadinessState current() const;
  Change set(bool ready, const std::string& reason);

  const std::string& load_problem() const { return m_load_problem; }

private:
  std::string m_state_file;
  std::string m_load_problem;
  mutable std::mutex m_mutex;
  ReadinessState m_state;
};

} // namespace lameduck
