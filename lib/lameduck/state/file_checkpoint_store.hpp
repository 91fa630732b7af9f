#pragma once

// The checkpoint store of a pod whose volume outlives it (a StatefulSet's claim, a hostPath):
// one JSON file, with the same semantics as the Redis store. Each operation reads the file,
// changes it and writes it back atomically (write_file_atomically: a crash leaves the old or
// the new file, never a mix), under an flock on PATH.lock, so that processes sharing the volume
// take turns. A file that does not parse is reported and left as it is, never overwritten.
// Leases use this machine's clock, which every user of one local file shares.

#include "lameduck/state/checkpoint_store.hpp"

#include <functional>

namespace lameduck {

class FileCheckpointStore final : public CheckpointStore {
public:
  explicit FileCheckpointStore(std::string path);

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
  std::string describe() const override { return m_path; }

private:
  // Runs `change` on the file's content under the lock; writes it back when it returns true.
  Expected<Done> update(const Deadline& deadline, const std::function<bool(nlohmann::json& data)>& change);

  std::string m_path;
};

} // namespace lameduck
