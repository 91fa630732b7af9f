#pragma once

// Hooks are delivered at least once: a kubelet restart can run the same preStop again while
// the first is still going, or after it ended. Per termination id, the first delivery does the
// work; a concurrent one waits for its result instead of draining twice; a later one returns
// the stored result at once. State lives in files under --state-dir: an flock'ed lock file and
// the result, written atomically.

#include "lameduck/core/deadline.hpp"
#include "lameduck/core/expected.hpp"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <functional>
#include <optional>
#include <string>

namespace lameduck {

class DeliveryGuard {
public:
  enum class Role {
    first,     // this delivery does the work, then calls record()
    waited,    // another delivery was running; this one waited for its result
    repeated,  // a delivery had already finished; its result is returned as it was
    timed_out, // another delivery was still running at the deadline
  };

  // Decides this delivery's role, waiting (bounded by the deadline) while another runs. When
  // the running delivery dies without a result, this one takes over as the first. on_waiting
  // is called once, when this delivery finds another holding the lock and starts to wait.
  static Expected<DeliveryGuard> acquire(const std::filesystem::path& state_dir, const std::string& termination_id,
                                         const Deadline& deadline, const std::function<void()>& on_waiting = {});

  // For a sidecar that must stop after the agent: the result a first delivery recorded for
  // this termination (atomically, so its presence is the durable "finished" marker), as soon
  // as it is there; nothing when the deadline comes first.
  static Expected<std::optional<nlohmann::json>> wait_for_result(const std::filesystem::path& state_dir,
                                                                 const std::string& termination_id,
                                                                 const Deadline& deadline);

  DeliveryGuard(DeliveryGuard&& other) noexcept;
  DeliveryGuard& operator=(DeliveryGuard&& other) noexcept;
  DeliveryGuard(const DeliveryGuard&) = delete;
  DeliveryGuard& operator=(const DeliveryGuard&) = delete;
  ~DeliveryGuard();

  Role role() const { return m_role; }
  // The earlier delivery's result, for waited and repeated.
  const std::optional<nlohmann::json>& earlier_result() const { return m_earlier_result; }

  // First delivery only: stores the result for later deliveries and releases the lock.
  Expected<Done> record(const nlohmann::json& result);

private:
  DeliveryGuard(Role role, int lock_fd, std::filesystem::path result_path, std::optional<nlohmann::json> result);

  Role m_role;
  int m_lock_fd = -1;
  std::filesystem::path m_result_path;
  std::optional<nlohmann::json> m_earlier_result;
};

std::string_view delivery_role_name(DeliveryGuard::Role role);

} // namespace lameduck
