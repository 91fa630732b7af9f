#include "lameduck/state/redis_checkpoint_store.hpp"

namespace lameduck {
namespace {

// ARGV: prefix, writer, worker, then id and state for each task. Returns how many were written.
constexpr const char* k_save = R"lua(
local p, writer, worker = ARGV[1], ARGV[2], ARGV[3]
local written = 0
for i = 4, #ARGV, 2 do
  local id, state = ARGV[i], ARGV[i + 1]
  local key = p .. 'task:' .. id
  local task = redis.call('HMGET', key, 'status', 'written_by', 'claimant')
  local status, by, claimant = task[1], task[2], task[3]
  local keep = status == 'done'
    or (status == 'claimed' and (by == writer or claimant ~= worker))
    or (by ~= writer and redis.call('SISMEMBER', p .. 'writers:' .. writer, id) == 1)
  if not keep then
    redis.call('HSET', key, 'status', 'pending', 'state', state, 'written_by', writer, 'claimant', '',
               'lease_until', 0)
    redis.call('ZADD', p .. 'pending', 0, id)
    redis.call('ZREM', p .. 'claims', id)
    redis.call('SADD', p .. 'tasks', id)
    redis.call('SADD', p .. 'writers:' .. writer, id)
    written = written + 1
  end
end
return written
)lua";

// ARGV: prefix, claimant, max (at least 1), lease in ms. Returns id, state, written_by per task.
constexpr const char* k_claim = R"lua(
local p, claimant, max, lease = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
for _, id in ipairs(redis.call('ZRANGEBYSCORE', p .. 'claims', '-inf', now)) do
  redis.call('HSET', p .. 'task:' .. id, 'status', 'pending', 'claimant', '', 'lease_until', 0)
  redis.call('ZREM', p .. 'claims', id)
  redis.call('ZADD', p .. 'pending', 0, id)
end
local out = {}
for _, id in ipairs(redis.call('ZRANGE', p .. 'pending', 0, max - 1)) do
  local key = p .. 'task:' .. id
  redis.call('HSET', key, 'status', 'claimed', 'claimant', claimant, 'lease_until', now + lease)
  redis.call('ZREM', p .. 'pending', id)
  redis.call('ZADD', p .. 'claims', now + lease, id)
  local task = redis.call('HMGET', key, 'state', 'written_by')
  table.insert(out, id)
  table.insert(out, task[1] or 'null')
  table.insert(out, task[2] or '')
end
return out
)lua";

// ARGV: prefix, claimant, lease in ms, then the ids. Returns how many the claimant still held.
constexpr const char* k_renew = R"lua(
local p, claimant, lease = ARGV[1], ARGV[2], tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local held = 0
for i = 4, #ARGV do
  local id = ARGV[i]
  local key = p .. 'task:' .. id
  local task = redis.call('HMGET', key, 'status', 'claimant', 'lease_until')
  if task[1] == 'claimed' and task[2] == claimant and tonumber(task[3]) > now then
    redis.call('HSET', key, 'lease_until', now + lease)
    redis.call('ZADD', p .. 'claims', now + lease, id)
    held = held + 1
  end
end
return held
)lua";

// ARGV: prefix, id, worker. Every call is counted in `finished`.
constexpr const char* k_complete = R"lua(
local p, id, worker = ARGV[1], ARGV[2], ARGV[3]
local key = p .. 'task:' .. id
local task = redis.call('HMGET', key, 'status', 'claimant')
redis.call('HINCRBY', key, 'finished', 1)
redis.call('SADD', p .. 'tasks', id)
if task[1] == 'done' then
  return 'already_done'
end
if task[1] == false or (task[1] == 'claimed' and task[2] == worker) then
  redis.call('HSET', key, 'status', 'done', 'done_by', worker, 'claimant', '')
  redis.call('ZREM', p .. 'claims', id)
  return 'completed'
end
return 'not_claimant'
)lua";

// ARGV: prefix, writer, then the ids. Returns how many were removed.
constexpr const char* k_withdraw = R"lua(
local p, writer = ARGV[1], ARGV[2]
local removed = 0
for i = 3, #ARGV do
  local id = ARGV[i]
  local key = p .. 'task:' .. id
  local task = redis.call('HMGET', key, 'status', 'written_by')
  if task[1] == 'pending' and task[2] == writer then
    redis.call('DEL', key)
    redis.call('ZREM', p .. 'pending', id)
    redis.call('SREM', p .. 'tasks', id)
    redis.call('SREM', p .. 'writers:' .. writer, id)
    removed = removed + 1
  end
end
return removed
)lua";

// ARGV: prefix. Returns, per task, its id and its hash's fields and values.
constexpr const char* k_records = R"lua(
local p = ARGV[1]
local out = {}
for _, id in ipairs(redis.call('SMEMBERS', p .. 'tasks')) do
  table.insert(out, id)
  table.insert(out, redis.call('HGETALL', p .. 'task:' .. id))
end
return out
)lua";

std::string lease_ms(Duration lease) {
  return std::to_string(std::max<long long>(1, std::chrono::duration_cast<std::chrono::milliseconds>(lease).count()));
}

nlohmann::json parse_state(const nlohmann::json& text) {
  return text.is_string() ? nlohmann::json::parse(text.get<std::string>(), nullptr, false) : nlohmann::json();
}

Error unexpected_reply(const char* operation) {
  return Error{std::string("redis: an unexpected reply to ") + operation};
}

} // namespace

RedisCheckpointStore::RedisCheckpointStore(RedisUrl url) : m_connection(std::move(url)) {}

std::string RedisCheckpointStore::describe() const {
  return m_connection.url().text();
}

Expected<nlohmann::json> RedisCheckpointStore::run(const char* script, std::vector<std::string> arguments,
                                                   const Deadline& deadline) {
  std::vector<std::string> command{"EVAL", script, "0", m_connection.url().prefix};
  command.insert(command.end(), std::make_move_iterator(arguments.begin()), std::make_move_iterator(arguments.end()));
  const std::lock_guard lock(m_mutex);
  return m_connection.command(command, deadline);
}

Expected<std::size_t> RedisCheckpointStore::save(const CheckpointWriter& writer,
                                                 const std::vector<TaskCheckpoint>& tasks, const Deadline& deadline) {
  if (tasks.empty()) {
    return std::size_t{0};
  }
  std::vector<std::string> arguments{writer.text(), writer.worker};
  for (const auto& task : tasks) {
    arguments.push_back(task.task_id);
    arguments.push_back(task.state.dump());
  }
  auto reply = run(k_save, std::move(arguments), deadline);
  if (!reply) {
    return unexpected(reply.error());
  }
  if (!reply->is_number_integer()) {
    return unexpected(unexpected_reply("save"));
  }
  return reply->get<std::size_t>();
}

Expected<std::vector<ClaimedTask>> RedisCheckpointStore::claim(const std::string& claimant, std::size_t max,
                                                               Duration lease, const Deadline& deadline) {
  if (max == 0) {
    return std::vector<ClaimedTask>{};
  }
  auto reply = run(k_claim, {claimant, std::to_string(max), lease_ms(lease)}, deadline);
  if (!reply) {
    return unexpected(reply.error());
  }
  if (!reply->is_array() || reply->size() % 3 != 0) {
    return unexpected(unexpected_reply("claim"));
  }
  std::vector<ClaimedTask> claimed;
  for (std::size_t i = 0; i < reply->size(); i += 3) {
    const auto& id = (*reply)[i];
    const auto& by = (*reply)[i + 2];
    if (!id.is_string() || !by.is_string()) {
      return unexpected(unexpected_reply("claim"));
    }
    claimed.push_back({.task_id = id, .state = parse_state((*reply)[i + 1]), .written_by = by});
  }
  return claimed;
}

Expected<std::size_t> RedisCheckpointStore::renew(const std::string& claimant, const std::vector<std::string>& task_ids,
                                                  Duration lease, const Deadline& deadline) {
  if (task_ids.empty()) {
    return std::size_t{0};
  }
  std::vector<std::string> arguments{claimant, lease_ms(lease)};
  arguments.insert(arguments.end(), task_ids.begin(), task_ids.end());
  auto reply = run(k_renew, std::move(arguments), deadline);
  if (!reply) {
    return unexpected(reply.error());
  }
  if (!reply->is_number_integer()) {
    return unexpected(unexpected_reply("renew"));
  }
  return reply->get<std::size_t>();
}

Expected<Completion> RedisCheckpointStore::complete(const std::string& task_id, const std::string& worker,
                                                    const Deadline& deadline) {
  auto reply = run(k_complete, {task_id, worker}, deadline);
  if (!reply) {
    return unexpected(reply.error());
  }
  const std::string answer = reply->is_string() ? reply->get<std::string>() : "";
  if (answer == "completed") {
    return Completion::completed;
  }
  if (answer == "already_done") {
    return Completion::already_done;
  }
  if (answer == "not_claimant") {
    return Completion::not_claimant;
  }
  return unexpected(unexpected_reply("complete"));
}

Expected<std::size_t> RedisCheckpointStore::withdraw(const CheckpointWriter& writer,
                                                     const std::vector<std::string>& task_ids,
                                                     const Deadline& deadline) {
  if (task_ids.empty()) {
    return std::size_t{0};
  }
  std::vector<std::string> arguments{writer.text()};
  arguments.insert(arguments.end(), task_ids.begin(), task_ids.end());
  auto reply = run(k_withdraw, std::move(arguments), deadline);
  if (!reply) {
    return unexpected(reply.error());
  }
  if (!reply->is_number_integer()) {
    return unexpected(unexpected_reply("withdraw"));
  }
  return reply->get<std::size_t>();
}

Expected<std::map<std::string, TaskRecord>> RedisCheckpointStore::records(const Deadline& deadline) {
  auto reply = run(k_records, {}, deadline);
  if (!reply) {
    return unexpected(reply.error());
  }
  if (!reply->is_array() || reply->size() % 2 != 0) {
    return unexpected(unexpected_reply("records"));
  }
  std::map<std::string, TaskRecord> all;
  for (std::size_t i = 0; i < reply->size(); i += 2) {
    const auto& id = (*reply)[i];
    const auto& fields = (*reply)[i + 1];
    if (!id.is_string() || !fields.is_array()) {
      return unexpected(unexpected_reply("records"));
    }
    std::map<std::string, std::string> hash;
    for (std::size_t f = 0; f + 1 < fields.size(); f += 2) {
      if (fields[f].is_string() && fields[f + 1].is_string()) {
        hash[fields[f]] = fields[f + 1];
      }
    }
    TaskRecord& record = all[id];
    record.status = hash.count("status") != 0 ? hash["status"] : "";
    record.written_by = hash["written_by"];
    record.claimant = hash["claimant"];
    record.done_by = hash["done_by"];
    record.finished = hash.count("finished") != 0 ? std::atoll(hash["finished"].c_str()) : 0;
    record.state = hash.count("state") != 0 ? parse_state(nlohmann::json(hash["state"])) : nlohmann::json();
  }
  return all;
}

} // namespace lameduck
