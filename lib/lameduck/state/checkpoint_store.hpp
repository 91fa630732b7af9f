#pragma once

// Where an agent's state survives it, for a successor to resume: the agent SDK's checkpoint
// stores, beside DrainController (whose flush writes to one). Two kinds behind one interface:
// a durable local file, for a pod whose volume outlives it, and Redis, which every pod of a
// rollout shares (docs/CONTRACT.md §7 has the semantics users rely on).
//
// Every call is bounded by its deadline. A writer is one drain of one worker: the worker's id
// (its pod's name) with the termination id, so that two pods' drains never pass for one.
// Per task:
//   save      pending, written by the writer; the last write wins, except that a write
//             repeating a writer after a successor has claimed (or finished) the task, or after
//             a newer drain rewrote it, changes nothing: a repeated drain is harmless; and a
//             task another worker holds a claim on is left to it
//   claim     pending -> claimed by one claimant for a lease, atomically: two successors never
//             get the same task; a claim whose lease ran out is pending again
//   complete  claimed by the caller (or never checkpointed) -> done; every call is counted
//             (`finished`), so work done twice would show
//   withdraw  a writer's own pending checkpoints are removed: they were kept here while the
//             store they belong in could not be reached, and have reached it since

#include "lameduck/core/deadline.hpp"
#include "lameduck/core/expected.hpp"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace lameduck {

struct TaskCheckpoint {
  std::string task_id;
  nlohmann::json state;
};

// Who writes a drain's checkpoints.
struct CheckpointWriter {
  std::string worker;          // the worker's id, its pod's name
  std::string termination_id;  // the drain's

  std::string text() const { return worker + "|" + termination_id; }
};

struct ClaimedTask {
  std::string task_id;
  nlohmann::json state;
  std::string written_by;  // the writer (CheckpointWriter::text) of its checkpoint
};

enum class Completion {
  completed,     // done now, by the caller
  already_done,  // someone finished it before: the caller's work was a second time
  not_claimant,  // pending or claimed by another: the caller held no claim on it
};

struct TaskRecord {
  std::string status;  // pending, claimed, done
  std::string written_by;
  std::string claimant;
  std::string done_by;
  long long finished = 0;  // complete() calls: 1 for a task done once
  nlohmann::json state;
};

class CheckpointStore {
public:
  virtual ~CheckpointStore() = default;

  // All of `tasks` at once (no reader sees a part). Returns how many were written: the others
  // were repeats, done, or held by another worker.
  virtual Expected<std::size_t> save(const CheckpointWriter& writer, const std::vector<TaskCheckpoint>& tasks,
                                     const Deadline& deadline) = 0;
  // Up to `max` pending tasks (expired claims first made pending again), in task id order.
  virtual Expected<std::vector<ClaimedTask>> claim(const std::string& claimant, std::size_t max, Duration lease,
                                                   const Deadline& deadline) = 0;
  // Extends the claimant's leases on `task_ids`; returns how many it still held.
  virtual Expected<std::size_t> renew(const std::string& claimant, const std::vector<std::string>& task_ids,
                                      Duration lease, const Deadline& deadline) = 0;
  virtual Expected<Completion> complete(const std::string& task_id, const std::string& worker,
                                        const Deadline& deadline) = 0;
  // Removes the tasks of `task_ids` that are still pending as `writer` wrote them; returns how
  // many it removed.
  virtual Expected<std::size_t> withdraw(const CheckpointWriter& writer, const std::vector<std::string>& task_ids,
                                         const Deadline& deadline) = 0;
  // Every task the store knows, for operators and tests.
  virtual Expected<std::map<std::string, TaskRecord>> records(const Deadline& deadline) = 0;

  // "redis://127.0.0.1:6379/0" or the file's path, for logs (never a password).
  virtual std::string describe() const = 0;
};

// A redis:// URL (redis_url.hpp) or a file path (absolute, or starting with ./).
Expected<std::unique_ptr<CheckpointStore>> open_checkpoint_store(const std::string& url);

const char* completion_name(Completion completion);

} // namespace lameduck
