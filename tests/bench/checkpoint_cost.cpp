// What keeping an agent's state costs: a drain saving 1,000 tasks in flight, and successors
// claiming and finishing them, to a real redis-server (on loopback) and to the local file store,
// beside the baseline a plain Redis client would be: one HSET round trip per task.
//
//   checkpoint-cost OUT_DIR [RUNS]      (./dev bench; writes OUT_DIR/checkpoints.json)

#include "lameduck/state/checkpoint_store.hpp"
#include "lameduck/state/redis_connection.hpp"
#include "support/process.hpp"
#include "support/sockets.hpp"
#include "support/temp_dir.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using lameduck::CheckpointStore;
using lameduck::CheckpointWriter;
using lameduck::Clock;
using lameduck::Deadline;
using lameduck::TaskCheckpoint;

namespace {

constexpr int k_tasks = 1000;

double median(std::vector<double> samples) {
  std::sort(samples.begin(), samples.end());
  return samples[samples.size() / 2];
}

double time_ms(const std::function<void()>& work) {
  const auto started = Clock::now();
  work();
  return std::chrono::duration<double, std::milli>(Clock::now() - started).count();
}

std::vector<TaskCheckpoint> in_flight(int run) {
  std::vector<TaskCheckpoint> tasks;
  for (int i = 0; i < k_tasks; ++i) {
    // A small state, as an agent's resume point is: where it got to, and a cursor.
    tasks.push_back({.task_id = "run" + std::to_string(run) + "-task-" + std::to_string(10000 + i),
                     .state = {{"doneMs", i * 7}, {"cursor", "page-" + std::to_string(i)}}});
  }
  return tasks;
}

template <typename T> T must(lameduck::Expected<T> result) {
  if (!result) {
    std::fprintf(stderr, "checkpoint-cost: %s\n", result.error().message.c_str());
    std::exit(1);
  }
  return std::move(*result);
}

struct Costs {
  double save_ms;     // one drain: save all 1,000 in one call
  double claim_ms;    // successors: claim them all, 8 at a time as the demo agent does
  double complete_ms; // and report each finished
};

Costs measure(const std::function<std::unique_ptr<CheckpointStore>(int run)>& open, int runs) {
  std::vector<double> save, claim, complete;
  for (int run = 0; run < runs; ++run) {
    const auto store = open(run);
    const auto tasks = in_flight(run);
    const CheckpointWriter writer{.worker = "agent-a", .termination_id = "uid-" + std::to_string(run)};
    save.push_back(time_ms([&] { must(store->save(writer, tasks, Deadline::after(30s))); }));
    std::vector<std::string> claimed;
    claim.push_back(time_ms([&] {
      for (;;) {
        const auto batch = must(store->claim("agent-b", 8, 60s, Deadline::after(30s)));
        if (batch.empty()) {
          break;
        }
        for (const auto& task : batch) {
          claimed.push_back(task.task_id);
        }
      }
    }));
    if (claimed.size() != k_tasks) {
      std::fprintf(stderr, "checkpoint-cost: claimed %zu of %d\n", claimed.size(), k_tasks);
      std::exit(1);
    }
    complete.push_back(time_ms([&] {
      for (const auto& id : claimed) {
        must(store->complete(id, "agent-b", Deadline::after(30s)));
      }
    }));
  }
  return {median(save), median(claim), median(complete)};
}

} // namespace

int main(int argc, char* argv[]) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: checkpoint-cost OUT_DIR [RUNS]\n");
    return 2;
  }
  const std::string out = argv[1];
  const int runs = argc > 2 ? std::max(1, std::atoi(argv[2])) : 11;
  const lameduck::test::TempDir dir;
  const int port = lameduck::test::closed_port();
  // As a production Redis for state would run: every write in the append-only file before the
  // reply (the strictest appendfsync, so the figure is an upper bound).
  lameduck::test::Process redis({"/usr/bin/redis-server", "--port", std::to_string(port), "--bind", "127.0.0.1",
                                 "--dir", dir.path().string(), "--save", "", "--appendonly", "yes", "--appendfsync",
                                 "always"});
  if (!redis.wait_for_stdout_containing("Ready to accept connections", Deadline::after(30s))) {
    std::fprintf(stderr, "checkpoint-cost: redis-server did not start\n");
    return 1;
  }
  const std::string redis_url = "redis://127.0.0.1:" + std::to_string(port) + "/0";

  const Costs on_redis = measure(
      [&](int run) {
        return must(lameduck::open_checkpoint_store(redis_url + "?prefix=bench" + std::to_string(run) + ":"));
      },
      runs);
  const Costs on_file = measure(
      [&](int run) { return must(lameduck::open_checkpoint_store(dir.file("store-" + std::to_string(run) + ".json"))); },
      runs);

  // The baseline: what a client that writes each task with its own command pays for the save.
  std::vector<double> one_by_one;
  for (int run = 0; run < runs; ++run) {
    lameduck::RedisConnection connection(must(lameduck::parse_redis_url(redis_url)));
    const auto tasks = in_flight(run);
    one_by_one.push_back(time_ms([&] {
      for (const auto& task : tasks) {
        must(connection.command({"HSET", "plain:" + task.task_id, "status", "pending", "state", task.state.dump()},
                                Deadline::after(30s)));
      }
    }));
  }
  const double plain_save_ms = median(one_by_one);

  const nlohmann::json results{
      {"tasks", k_tasks},
      {"runs", runs},
      {"redis", {{"saveMs", on_redis.save_ms}, {"claimMs", on_redis.claim_ms}, {"completeMs", on_redis.complete_ms}}},
      {"file", {{"saveMs", on_file.save_ms}, {"claimMs", on_file.claim_ms}, {"completeMs", on_file.complete_ms}}},
      {"redisOneHsetPerTaskSaveMs", plain_save_ms},
  };
  std::ofstream(out + "/checkpoints.json") << results.dump(2) << "\n";
  std::printf("checkpoints of %d tasks, median of %d runs (Redis: appendonly, appendfsync always)\n", k_tasks, runs);
  std::printf("  %-28s %12s %12s %28s\n", "", "Redis store", "file store", "Redis, one HSET per task");
  std::printf("  %-28s %9.1f ms %9.1f ms %25.1f ms\n", "drain saves 1,000", on_redis.save_ms, on_file.save_ms,
              plain_save_ms);
  std::printf("  %-28s %9.1f ms %9.1f ms\n", "claimed 8 at a time", on_redis.claim_ms, on_file.claim_ms);
  std::printf("  %-28s %9.1f ms %9.1f ms\n", "each finish reported", on_redis.complete_ms, on_file.complete_ms);
  return 0;
}
