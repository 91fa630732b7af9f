#include "lameduck/state/file_checkpoint_store.hpp"

#include "lameduck/core/backoff.hpp"
#include "lameduck/core/durable_file.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

namespace lameduck {
namespace {

// The file may hold every task of a busy agent; past this it is refused, not read.
constexpr std::size_t k_max_store_file = std::size_t{256} << 20;

long long now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

long long lease_ms(Duration lease) {
  return std::max<long long>(1, to_ms(lease));
}

// Claims whose lease ended are pending again.
void release_expired(nlohmann::json& tasks, long long now) {
  for (auto& [id, task] : tasks.items()) {
    if (task.value("status", "") == "claimed" && task.value("lease_until", 0LL) <= now) {
      task["status"] = "pending";
      task["claimant"] = "";
      task["lease_until"] = 0;
    }
  }
}

// A task as this store writes it: an object whose fields, where present, have their types.
bool is_task(const nlohmann::json& task) {
  if (!task.is_object()) {
    return false;
  }
  for (const char* text : {"status", "written_by", "claimant", "done_by"}) {
    if (task.contains(text) && !task[text].is_string()) {
      return false;
    }
  }
  for (const char* number : {"lease_until", "finished"}) {
    if (task.contains(number) && !task[number].is_number_integer()) {
      return false;
    }
  }
  return true;
}

class FileLock {
public:
  explicit FileLock(int fd) : m_fd(fd) {}
  ~FileLock() {
    if (m_fd >= 0) {
      ::flock(m_fd, LOCK_UN);
      ::close(m_fd);
    }
  }
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

private:
  int m_fd;
};

} // namespace

FileCheckpointStore::FileCheckpointStore(std::string path) : m_path(std::move(path)) {}

Expected<Done> FileCheckpointStore::update(const Deadline& deadline,
                                           const std::function<bool(nlohmann::json& data)>& change) {
  const std::string lock_path = m_path + ".lock";
  const int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    return unexpected("cannot open " + lock_path + ": " + std::strerror(errno));
  }
  const FileLock lock(fd);
  // flock() would block without a bound: try, and back off within the deadline.
  Backoff backoff({std::chrono::milliseconds{1}, std::chrono::milliseconds{50}});
  while (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK && errno != EINTR) {
      return unexpected("cannot lock " + lock_path + ": " + std::strerror(errno));
    }
    if (!backoff.wait(deadline)) {
      return unexpected("another process held " + lock_path + " past the deadline");
    }
  }
  const auto read = read_small_file(m_path, k_max_store_file);
  if (!read) {
    return unexpected(read.error());
  }
  nlohmann::json data = read->missing ? nlohmann::json::object()
                                      : nlohmann::json::parse(read->content, nullptr, false);
  if (!data.is_object() || (data.contains("tasks") && !data["tasks"].is_object()) ||
      (data.contains("writers") && !data["writers"].is_object())) {
    return unexpected("the checkpoint file " + m_path + " is not a checkpoint store; left as it is");
  }
  data.emplace("tasks", nlohmann::json::object());
  data.emplace("writers", nlohmann::json::object());
  for (const auto& [id, task] : data["tasks"].items()) {
    if (!is_task(task)) {
      return unexpected("the checkpoint file " + m_path + " is not a checkpoint store: task \"" + id +
                        "\" is not one; left as it is");
    }
  }
  for (const auto& [writer, ids] : data["writers"].items()) {
    if (!ids.is_array() || !std::all_of(ids.begin(), ids.end(), [](const auto& id) { return id.is_string(); })) {
      return unexpected("the checkpoint file " + m_path + " is not a checkpoint store: writer \"" + writer +
                        "\" has no list of ids; left as it is");
    }
  }
  try {
    if (!change(data)) {
      return Done{};
    }
  } catch (const nlohmann::json::exception& error) {
    // A field of the wrong type (a status that is a number): someone else's file, or a broken one.
    return unexpected("the checkpoint file " + m_path + " is not a checkpoint store (" + error.what() +
                      "); left as it is");
  }
  return write_file_atomically(m_path, data.dump() + "\n", 0600);
}

Expected<std::size_t> FileCheckpointStore::save(const CheckpointWriter& writer,
                                                const std::vector<TaskCheckpoint>& tasks, const Deadline& deadline) {
  std::size_t written = 0;
  auto updated = update(deadline, [&](nlohmann::json& data) {
    const std::string by_writer = writer.text();
    auto& wrote = data["writers"][by_writer];
    if (!wrote.is_array()) {
      wrote = nlohmann::json::array();
    }
    for (const auto& checkpoint : tasks) {
      nlohmann::json& task = data["tasks"][checkpoint.task_id];
      if (!task.is_object()) {
        task = nlohmann::json::object();
      }
      const std::string status = task.value("status", "");
      const std::string by = task.value("written_by", "");
      const bool wrote_before = std::find(wrote.begin(), wrote.end(), checkpoint.task_id) != wrote.end();
      const bool keep = status == "done" ||
                        (status == "claimed" && (by == by_writer || task.value("claimant", "") != writer.worker)) ||
                        (by != by_writer && wrote_before);
      if (keep) {
        continue;
      }
      task["status"] = "pending";
      task["state"] = checkpoint.state;
      task["written_by"] = by_writer;
      task["claimant"] = "";
      task["lease_until"] = 0;
      if (!wrote_before) {
        wrote.push_back(checkpoint.task_id);
      }
      ++written;
    }
    return written > 0;
  });
  if (!updated) {
    return unexpected(updated.error());
  }
  return written;
}

Expected<std::vector<ClaimedTask>> FileCheckpointStore::claim(const std::string& claimant, std::size_t max,
                                                              Duration lease, const Deadline& deadline) {
  std::vector<ClaimedTask> claimed;
  auto updated = update(deadline, [&](nlohmann::json& data) {
    const long long now = now_ms();
    release_expired(data["tasks"], now);
    // A JSON object's keys are in order: the pending tasks come in id order, as from Redis.
    for (auto& [id, task] : data["tasks"].items()) {
      if (claimed.size() >= max) {
        break;
      }
      if (task.value("status", "") != "pending") {
        continue;
      }
      task["status"] = "claimed";
      task["claimant"] = claimant;
      task["lease_until"] = now + lease_ms(lease);
      claimed.push_back({.task_id = id, .state = task.value("state", nlohmann::json()),
                         .written_by = task.value("written_by", "")});
    }
    return true; // expired leases may have changed even when nothing was claimed
  });
  if (!updated) {
    return unexpected(updated.error());
  }
  return claimed;
}

Expected<std::size_t> FileCheckpointStore::renew(const std::string& claimant, const std::vector<std::string>& task_ids,
                                                 Duration lease, const Deadline& deadline) {
  std::size_t held = 0;
  auto updated = update(deadline, [&](nlohmann::json& data) {
    const long long now = now_ms();
    auto& tasks = data["tasks"];
    for (const auto& id : task_ids) {
      if (!tasks.contains(id)) {
        continue;
      }
      auto& task = tasks[id];
      if (task.value("status", "") == "claimed" && task.value("claimant", "") == claimant &&
          task.value("lease_until", 0LL) > now) {
        task["lease_until"] = now + lease_ms(lease);
        ++held;
      }
    }
    return held > 0;
  });
  if (!updated) {
    return unexpected(updated.error());
  }
  return held;
}

Expected<Completion> FileCheckpointStore::complete(const std::string& task_id, const std::string& worker,
                                                   const Deadline& deadline) {
  Completion completion = Completion::not_claimant;
  auto updated = update(deadline, [&](nlohmann::json& data) {
    nlohmann::json& task = data["tasks"][task_id];
    if (!task.is_object()) {
      task = nlohmann::json::object(); // never checkpointed: finished by the pod that accepted it
    }
    const std::string status = task.value("status", "");
    task["finished"] = task.value("finished", 0LL) + 1;
    if (status == "done") {
      completion = Completion::already_done;
    } else if (status.empty() || (status == "claimed" && task.value("claimant", "") == worker)) {
      task["status"] = "done";
      task["done_by"] = worker;
      task["claimant"] = "";
      completion = Completion::completed;
    }
    return true;
  });
  if (!updated) {
    return unexpected(updated.error());
  }
  return completion;
}

Expected<std::size_t> FileCheckpointStore::withdraw(const CheckpointWriter& writer,
                                                    const std::vector<std::string>& task_ids,
                                                    const Deadline& deadline) {
  std::size_t removed = 0;
  auto updated = update(deadline, [&](nlohmann::json& data) {
    const std::string by_writer = writer.text();
    auto& tasks = data["tasks"];
    for (const auto& id : task_ids) {
      if (tasks.contains(id) && tasks[id].value("status", "") == "pending" &&
          tasks[id].value("written_by", "") == by_writer) {
        tasks.erase(id);
        ++removed;
      }
    }
    auto& wrote = data["writers"][by_writer];
    if (wrote.is_array()) {
      for (const auto& id : task_ids) {
        wrote.erase(std::remove(wrote.begin(), wrote.end(), id), wrote.end());
      }
    }
    return removed > 0;
  });
  if (!updated) {
    return unexpected(updated.error());
  }
  return removed;
}

Expected<std::map<std::string, TaskRecord>> FileCheckpointStore::records(const Deadline& deadline) {
  std::map<std::string, TaskRecord> all;
  auto updated = update(deadline, [&](nlohmann::json& data) {
    for (const auto& [id, task] : data["tasks"].items()) {
      all[id] = TaskRecord{.status = task.value("status", ""),
                           .written_by = task.value("written_by", ""),
                           .claimant = task.value("claimant", ""),
                           .done_by = task.value("done_by", ""),
                           .finished = task.value("finished", 0LL),
                           .state = task.value("state", nlohmann::json())};
    }
    return false;
  });
  if (!updated) {
    return unexpected(updated.error());
  }
  return all;
}

} // namespace lameduck
