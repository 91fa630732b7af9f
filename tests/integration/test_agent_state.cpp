// The demo agent's state, kept for a successor: real agents drained by the real drain-wait,
// their checkpoints saved to a real redis-server, claimed and finished by other agents, with
// Redis killed and restarted between, down during a drain, and a claimant killed mid-task.

#include "lameduck/state/checkpoint_store.hpp"
#include "support/agent_process.hpp"
#include "support/process.hpp"
#include "support/redis_process.hpp"
#include "support/temp_dir.hpp"

#include <doctest/doctest.h>

#include <csignal>
#include <set>

using namespace std::chrono_literals;
using lameduck::Clock;
using lameduck::Deadline;
using lameduck::test::AgentProcess;
using lameduck::test::RedisProcess;
using lameduck::test::run_process;
using lameduck::test::TempDir;
using lameduck::test::tool_path;

namespace {

std::vector<std::string> drain_wait(const AgentProcess& agent, const std::string& termination_id,
                                    std::vector<std::string> flags = {}) {
  std::vector<std::string> argv{tool_path("drain-wait"), "--drain-url", agent.url("/drain"), "--termination-id",
                                termination_id};
  argv.insert(argv.end(), flags.begin(), flags.end());
  return argv;
}

std::vector<std::string> agent_flags(const std::string& store, const std::string& worker,
                                     std::vector<std::string> more = {}) {
  std::vector<std::string> flags{"--state-url", store, "--worker-id", worker};
  flags.insert(flags.end(), more.begin(), more.end());
  return flags;
}

// The task ids an agent logged as finished, in order, each time it did.
std::multiset<std::string> finished_by(AgentProcess& agent) {
  std::multiset<std::string> ids;
  for (const auto& line : agent.process().stderr_lines()) {
    const auto json = nlohmann::json::parse(line, nullptr, false);
    if (json.is_object() && json.value("event", "") == "task.finished") {
      ids.insert(json.value("task", ""));
    }
  }
  return ids;
}

// Waits until the agent has logged `count` finished tasks (each line is looked at once).
bool wait_finished(AgentProcess& agent, std::size_t count, const Deadline& deadline) {
  std::size_t seen = 0;
  return agent.process()
      .wait_for_stderr(
          [&](const std::string& line) {
            seen += line.find(R"("event":"task.finished")") != std::string::npos ? 1 : 0;
            return seen >= count;
          },
          deadline)
      .has_value();
}

} // namespace

TEST_CASE("agent state: a drained agent's tasks are finished once, by a successor, through Redis") {
  RedisProcess redis(RedisProcess::Options{.append_only = true});
  const TempDir dir;
  AgentProcess leaving(dir.file("a.json"), agent_flags(redis.url(), "agent-a", {"--task-time", "1s"}));
  for (const char* id : {"t1", "t2", "t3"}) {
    REQUIRE(leaving.submit(id) == 202);
  }
  REQUIRE(run_process(drain_wait(leaving, "uid-a")).exit_code == 0);
  const auto checkpointed = leaving.process().wait_for_event("state.checkpointed", Deadline::after(5s));
  REQUIRE(checkpointed);
  CHECK(checkpointed->at("tasks") == nlohmann::json{"t1", "t2", "t3"});
  // A second delivery of the same drain (the kubelet's hook, run again) changes nothing.
  REQUIRE(run_process(drain_wait(leaving, "uid-a")).exit_code == 0);
  leaving.process().send_signal(SIGTERM);
  REQUIRE(leaving.process().wait_exit(Deadline::after(10s)));

  // Redis is killed and comes back between the checkpoint and the claim: nothing is lost.
  redis.stop(SIGKILL);
  redis.start();

  AgentProcess successor(dir.file("b.json"), agent_flags(redis.url(), "agent-b", {"--task-time", "1s"}));
  REQUIRE(wait_finished(successor, 3, Deadline::after(20s)));
  CHECK(finished_by(successor) == std::multiset<std::string>{"t1", "t2", "t3"});
  CHECK(finished_by(leaving).empty());
  const auto store = lameduck::open_checkpoint_store(redis.url()).value();
  const auto records = store->records(Deadline::after(5s)).value();
  CHECK(records.size() == 3);
  for (const auto& [id, record] : records) {
    CAPTURE(id);
    CHECK(record.status == "done");
    CHECK(record.done_by == "agent-b");
    CHECK(record.finished == 1);
    CHECK(record.written_by == "agent-a|uid-a");
  }
}

TEST_CASE("agent state: Redis down during the drain") {
  RedisProcess redis;
  const TempDir dir;
  const std::string fallback = dir.file("fallback.json");
  const auto flags = agent_flags(redis.url(), "agent-a", {"--task-time", "1s", "--state-fallback", fallback});
  std::optional<AgentProcess> leaving;
  leaving.emplace(dir.file("a.json"), flags);
  for (const char* id : {"t1", "t2"}) {
    REQUIRE(leaving->submit(id) == 202);
  }
  redis.stop();

  // Not flushed: drain-wait says so and gives up within its budget, and the checkpoints are
  // kept in the local fallback.
  const auto started = Clock::now();
  const auto result = run_process(drain_wait(*leaving, "uid-a", {"--timeout", "2s"}));
  CHECK(result.exit_code == 1);
  CHECK(Clock::now() - started < 4s);
  const auto kept = leaving->process().wait_for_event("state.fallback", Deadline::after(5s));
  REQUIRE(kept);
  CHECK(kept->at("tasks") == nlohmann::json{"t1", "t2"});
  auto local = lameduck::open_checkpoint_store(fallback).value();
  const auto records = local->records(Deadline::after(5s)).value();
  CHECK(records.size() == 2);
  CHECK(records.at("t1").status == "pending");

  SUBCASE("Redis comes back before the grace period ends: the drain flushes there, the local copies go") {
    redis.start();
    REQUIRE(leaving->process().wait_for_event("state.checkpointed", Deadline::after(10s)));
    REQUIRE(leaving->process().wait_for_event("state.fallback_withdrawn", Deadline::after(5s)));
    CHECK(local->records(Deadline::after(5s)).value().empty());
    CHECK(run_process(drain_wait(*leaving, "uid-a")).exit_code == 0);
  }
  SUBCASE("the container restarts on its volume: it resumes them from the fallback") {
    leaving->process().send_signal(SIGTERM);
    REQUIRE(leaving->process().wait_exit(Deadline::after(10s)));
    leaving.emplace(dir.file("a.json"), flags);
    REQUIRE(wait_finished(*leaving, 2, Deadline::after(20s)));
    CHECK(finished_by(*leaving) == std::multiset<std::string>{"t1", "t2"});
    const auto resumed = local->records(Deadline::after(5s)).value();
    CHECK(resumed.size() == 2);
    for (const auto& [id, record] : resumed) {
      CHECK(record.status == "done");
      CHECK(record.finished == 1);
    }
  }
}

TEST_CASE("agent state: a claimant killed mid-task; the task is claimed again once its lease runs out") {
  RedisProcess redis;
  const TempDir dir;
  const auto store = lameduck::open_checkpoint_store(redis.url()).value();
  const lameduck::CheckpointWriter drain{.worker = "agent-a", .termination_id = "uid-a"};
  REQUIRE(store->save(drain, {{.task_id = "t1", .state = {{"doneMs", 100}}}}, Deadline::after(5s)).value() == 1);

  std::optional<AgentProcess> doomed;
  doomed.emplace(dir.file("b.json"), agent_flags(redis.url(), "agent-b", {"--task-time", "1h", "--lease", "1s"}));
  REQUIRE(doomed->process().wait_for_event("task.claimed", Deadline::after(10s)));
  // It renews its lease while it works: past two leases the task is still its.
  AgentProcess successor(dir.file("c.json"), agent_flags(redis.url(), "agent-c", {"--task-time", "500ms"}));
  const auto renewed_through = Deadline::after(2500ms);
  CHECK_FALSE(successor.process().wait_for_event("task.claimed", renewed_through));
  const auto killed_at = Clock::now();
  doomed->process().send_signal(SIGKILL); // an OOM kill: no drain, no checkpoint
  doomed.reset();
  const auto claimed = successor.process().wait_for_event("task.claimed", Deadline::after(10s));
  REQUIRE(claimed);
  CHECK(claimed->at("doneMs") == 100); // from the last checkpoint
  CHECK(Clock::now() - killed_at < 5s); // within the lease, its renewal's third, and a claim's pace
  REQUIRE(wait_finished(successor, 1, Deadline::after(10s)));
  const auto records = store->records(Deadline::after(5s)).value();
  CHECK(records.at("t1").done_by == "agent-c");
  CHECK(records.at("t1").finished == 1);
}

TEST_CASE("agent state: bad state flags exit 2, naming the flag") {
  const TempDir dir;
  for (const auto& flags : std::vector<std::vector<std::string>>{
           {"--state-url", "rediss://127.0.0.1:6380/0"},
           {"--state-url", "relative/path.json"},
           {"--state-url", "redis://user:pw@127.0.0.1:6379"},
           {"--state-fallback", dir.file("f.json")},
           {"--state-url", dir.file("s.json"), "--lease", "0s"},
       }) {
    std::vector<std::string> argv{tool_path("demo-agent"), "--state-file", dir.file("a.json")};
    argv.insert(argv.end(), flags.begin(), flags.end());
    const auto result = run_process(argv);
    CAPTURE(result.stderr_text);
    CHECK(result.exit_code == 2);
    CHECK(result.stderr_text.find(flags[flags.size() - 2]) != std::string::npos);
  }
}
