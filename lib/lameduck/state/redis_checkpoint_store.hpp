#pragma once

// The checkpoint store every pod of a rollout shares: Redis. Each operation is one Lua script,
// so each is atomic: two successors' claims never interleave, and a save is seen whole. Lease
// times come from Redis' own TIME, so the pods' clocks do not matter.
//
// Keys, all under the URL's prefix (default "lameduck:"; on Redis Cluster give it a hash tag,
// "{lameduck}:", so that one script's keys share a slot):
//   task:ID        hash: status, state, written_by, claimant, lease_until, done_by, finished
//   pending        zset, every score 0: pending ids in id order
//   claims         zset: claimed ids scored by when their lease ends (ms)
//   tasks          set: every id the store knows
//   writers:WRITER set: the ids this writer (a worker's drain) saved
//
// Durability is Redis': with `appendonly yes` a restart keeps what was acknowledged (with
// `appendfsync everysec`, all but the last second on a power loss).

#include "lameduck/state/checkpoint_store.hpp"
#include "lameduck/state/redis_connection.hpp"
#include "lameduck/state/redis_url.hpp"

#include <mutex>

namespace lameduck {

class RedisCheckpointStore final : public CheckpointStore {
public:
  explicit RedisCheckpointStore(RedisUrl url);

  Expected<std::size_t> save(const CheckpointWriter& writer, const std::vector<TaskCheckpoint>& tasks,
                             const Deadline& deadline) override;
  Expected<std::vector<ClaimedTask>> claim(const std::string& claimant, std::size_t max, Duration lease,
                                           const Deadline& deadline) override;
  Expected<std::size_t> renew(const std::string& claimant, const std::vector<std::string>& task_ids, Duration lease,
                              const Deadline& deadline) override;
  Expected<Completion> complete(const std::string& task_id, const std::string& worker,
                                const Deadline& deadline) override;
  Expected<std::size_t> withdraw(const CheckpointWriter& writer, const std::vector<std::string>& task_ids,
                                 const Deadline& deadline) override;
  Expected<std::map<std::string, TaskRecord>> records(const Deadline& deadline) override;
  std::string describe() const override;

private:
  Expected<nlohmann::json> run(const char* script, std::vector<std::string> arguments, const Deadline& deadline);

  std::mutex m_mutex; // one command at a time on the one connection
  RedisConnection m_connection;
};

} // namespace lameduck
