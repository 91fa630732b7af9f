// The checkpoint stores against what they promise (docs/CONTRACT.md §7): the Redis store
// against a real redis-server, the file store against its file, through the same cases; then
// the Redis store against peers that hang, reset, trickle or lie, and a Redis that restarts.

#include "lameduck/core/backoff.hpp"
#include "lameduck/core/durable_file.hpp"
#include "lameduck/state/checkpoint_store.hpp"
#include "lameduck/state/file_checkpoint_store.hpp"
#include "support/redis_process.hpp"
#include "support/sockets.hpp"
#include "support/temp_dir.hpp"

#include <doctest/doctest.h>

#include <fcntl.h>
#include <poll.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <set>
#include <thread>

using namespace std::chrono_literals;
using lameduck::Backoff;
using lameduck::CheckpointStore;
using lameduck::CheckpointWriter;
using lameduck::Clock;
using lameduck::Completion;
using lameduck::Deadline;
using lameduck::TaskCheckpoint;
using lameduck::test::RedisProcess;
using lameduck::test::TempDir;

namespace {

// Each call's own bound, ample on a loaded machine.
Deadline within() {
  return Deadline::after(10s);
}

std::vector<TaskCheckpoint> tasks(std::initializer_list<std::pair<const char*, long long>> list) {
  std::vector<TaskCheckpoint> all;
  for (const auto& [id, done] : list) {
    all.push_back({.task_id = id, .state = {{"doneMs", done}}});
  }
  return all;
}

std::vector<std::string> ids_of(const std::vector<lameduck::ClaimedTask>& claimed) {
  std::vector<std::string> ids;
  for (const auto& task : claimed) {
    ids.push_back(task.task_id);
  }
  return ids;
}

// The same promises, whichever store keeps them.
void check_semantics(CheckpointStore& store) {
  const CheckpointWriter drain_a{.worker = "agent-a", .termination_id = "uid-a"};

  SUBCASE("a successor claims what a drain saved, in id order, with its state and its writer") {
    REQUIRE(store.save(drain_a, tasks({{"t2", 200}, {"t1", 100}, {"t3", 300}}), within()).value() == 3);
    const auto claimed = store.claim("agent-b", 2, 10s, within()).value();
    CHECK(ids_of(claimed) == std::vector<std::string>{"t1", "t2"});
    CHECK(claimed[0].state["doneMs"] == 100);
    CHECK(claimed[0].written_by == drain_a.text());
    CHECK(ids_of(store.claim("agent-c", 8, 10s, within()).value()) == std::vector<std::string>{"t3"});
    CHECK(store.claim("agent-d", 8, 10s, within()).value().empty());
  }
  SUBCASE("within one drain the last write wins") {
    REQUIRE(store.save(drain_a, tasks({{"t1", 100}}), within()).value() == 1);
    REQUIRE(store.save(drain_a, tasks({{"t1", 150}}), within()).value() == 1);
    const auto claimed = store.claim("agent-b", 8, 10s, within()).value();
    REQUIRE(claimed.size() == 1);
    CHECK(claimed[0].state["doneMs"] == 150);
  }
  SUBCASE("a drain delivered again after a successor claimed changes nothing") {
    REQUIRE(store.save(drain_a, tasks({{"t1", 100}}), within()).value() == 1);
    REQUIRE(store.claim("agent-b", 8, 10s, within()).value().size() == 1);
    CHECK(store.save(drain_a, tasks({{"t1", 100}}), within()).value() == 0);
    CHECK(store.claim("agent-c", 8, 10s, within()).value().empty());
    CHECK(store.records(within()).value().at("t1").claimant == "agent-b");
  }
  SUBCASE("an older drain repeated after a newer one rewrote the task changes nothing") {
    REQUIRE(store.save(drain_a, tasks({{"t1", 100}}), within()).value() == 1);
    REQUIRE(store.claim("agent-b", 8, 10s, within()).value().size() == 1);
    const CheckpointWriter drain_b{.worker = "agent-b", .termination_id = "uid-b"};
    REQUIRE(store.save(drain_b, tasks({{"t1", 900}}), within()).value() == 1); // b drains in turn
    CHECK(store.save(drain_a, tasks({{"t1", 100}}), within()).value() == 0);
    const auto claimed = store.claim("agent-c", 8, 10s, within()).value();
    REQUIRE(claimed.size() == 1);
    CHECK(claimed[0].state["doneMs"] == 900);
    CHECK(claimed[0].written_by == drain_b.text());
  }
  SUBCASE("a task another worker holds is left to it") {
    REQUIRE(store.save(drain_a, tasks({{"t1", 100}}), within()).value() == 1);
    REQUIRE(store.claim("agent-b", 8, 10s, within()).value().size() == 1);
    const CheckpointWriter stranger{.worker = "agent-x", .termination_id = "uid-x"};
    CHECK(store.save(stranger, tasks({{"t1", 5}}), within()).value() == 0);
    CHECK(store.records(within()).value().at("t1").status == "claimed");
  }
  SUBCASE("finishing: once by the claimant, counted every time, and never checkpointed again") {
    REQUIRE(store.save(drain_a, tasks({{"t1", 100}}), within()).value() == 1);
    REQUIRE(store.claim("agent-b", 8, 10s, within()).value().size() == 1);
    CHECK(store.complete("t1", "agent-c", within()).value() == Completion::not_claimant);
    CHECK(store.complete("t1", "agent-b", within()).value() == Completion::completed);
    CHECK(store.complete("t1", "agent-b", within()).value() == Completion::already_done);
    CHECK(store.save(drain_a, tasks({{"t1", 100}}), within()).value() == 0);
    // A task its own pod finished, never checkpointed, is recorded done too.
    CHECK(store.complete("t9", "agent-a", within()).value() == Completion::completed);
    const auto records = store.records(within()).value();
    CHECK(records.at("t1").status == "done");
    CHECK(records.at("t1").done_by == "agent-b");
    CHECK(records.at("t1").finished == 3);
    CHECK(records.at("t9").finished == 1);
  }
  SUBCASE("a claim whose claimant stops renewing is claimable again after its lease, and not before") {
    REQUIRE(store.save(drain_a, tasks({{"t1", 100}}), within()).value() == 1);
    const auto claimed_at = Clock::now();
    REQUIRE(store.claim("agent-b", 8, 600ms, within()).value().size() == 1);
    CHECK(store.renew("agent-b", {"t1"}, 600ms, within()).value() == 1);
    CHECK(store.renew("agent-c", {"t1"}, 600ms, within()).value() == 0);
    // agent-b dies here. Another successor asks until the lease has run out.
    Backoff backoff({20ms, 100ms});
    const auto deadline = Deadline::after(10s);
    std::vector<lameduck::ClaimedTask> again;
    while ((again = store.claim("agent-c", 8, 10s, within()).value()).empty() && backoff.wait(deadline)) {
    }
    REQUIRE(ids_of(again) == std::vector<std::string>{"t1"});
    CHECK(Clock::now() - claimed_at >= 500ms); // the renewal's lease, less the clocks' skew
    CHECK(store.renew("agent-b", {"t1"}, 600ms, within()).value() == 0);
    CHECK(store.complete("t1", "agent-b", within()).value() == Completion::not_claimant);
    CHECK(store.complete("t1", "agent-c", within()).value() == Completion::completed);
  }
  SUBCASE("a writer withdraws only its own checkpoints that nobody claimed") {
    const CheckpointWriter drain_b{.worker = "agent-b", .termination_id = "uid-b"};
    REQUIRE(store.save(drain_a, tasks({{"t1", 1}, {"t2", 2}}), within()).value() == 2);
    REQUIRE(store.save(drain_b, tasks({{"t3", 3}}), within()).value() == 1);
    REQUIRE(ids_of(store.claim("agent-c", 1, 10s, within()).value()) == std::vector<std::string>{"t1"});
    CHECK(store.withdraw(drain_a, {"t1", "t2", "t3"}, within()).value() == 1); // t2 alone
    const auto records = store.records(within()).value();
    CHECK(records.count("t2") == 0);
    CHECK(records.at("t1").status == "claimed");
    CHECK(records.at("t3").status == "pending");
    CHECK(store.save(drain_a, tasks({{"t2", 2}}), within()).value() == 1); // withdrawn, not done
  }
  SUBCASE("four successors claiming at once never get the same task") {
    std::vector<TaskCheckpoint> many;
    for (int i = 0; i < 200; ++i) {
      many.push_back({.task_id = "task-" + std::to_string(1000 + i), .state = {{"doneMs", i}}});
    }
    REQUIRE(store.save(drain_a, many, within()).value() == 200);
    std::mutex mutex;
    std::multiset<std::string> claimed;
    std::atomic<int> errors{0};
    std::vector<std::thread> successors;
    for (int s = 0; s < 4; ++s) {
      successors.emplace_back([&, s] {
        // 200 tasks, 8 at a time: a successor that needs more rounds than that gets repeats.
        for (int round = 0; round < 30; ++round) {
          const auto got = store.claim("agent-" + std::to_string(s), 8, 30s, within());
          if (!got) {
            ++errors;
            return;
          }
          if (got->empty()) {
            return;
          }
          const std::lock_guard lock(mutex);
          for (const auto& task : *got) {
            claimed.insert(task.task_id);
          }
        }
      });
    }
    for (auto& successor : successors) {
      successor.join();
    }
    CHECK(errors == 0);
    CHECK(claimed.size() == 200);
    CHECK(std::set<std::string>(claimed.begin(), claimed.end()).size() == 200);
  }
}

// A peer on a loopback port that speaks no Redis, or speaks it badly.
class FaultyRedis {
public:
  enum class Fault { hang, reset, trickle, garbage, huge };

  explicit FaultyRedis(Fault fault) : m_fault(fault) {
    m_thread = std::thread([this] { serve(); });
  }
  ~FaultyRedis() {
    m_stopping = true;
    m_thread.join();
  }
  std::string url() const { return "redis://127.0.0.1:" + std::to_string(m_listener.port()) + "/0"; }

private:
  void serve() {
    while (!m_stopping) {
      int fd = -1;
      try {
        fd = m_listener.accept(Deadline::after(100ms));
      } catch (const std::exception&) {
        continue;
      }
      char request[4096];
      (void)::recv(fd, request, sizeof request, 0);
      behave(fd);
      ::close(fd);
    }
  }

  void behave(int fd) {
    const auto send = [fd](std::string_view bytes) { return ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) >= 0; };
    switch (m_fault) {
    case Fault::hang:
      while (!m_stopping) {
        pollfd polled{.fd = fd, .events = POLLIN, .revents = 0};
        if (::poll(&polled, 1, 50) > 0 && ::recv(fd, nullptr, 0, MSG_PEEK | MSG_DONTWAIT) == 0) {
          return; // the client gave up
        }
      }
      return;
    case Fault::reset: {
      const linger abort{.l_onoff = 1, .l_linger = 0};
      ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &abort, sizeof abort);
      return;
    }
    case Fault::trickle:
      for (const char byte : std::string_view(":1\r\n")) {
        if (m_stopping || !send(std::string_view(&byte, 1))) {
          return;
        }
        pollfd polled{.fd = fd, .events = 0, .revents = 0};
        ::poll(&polled, 1, 400);
      }
      return;
    case Fault::garbage:
      send("HTTP/1.1 400 Bad Request\r\n\r\n");
      return;
    case Fault::huge: {
      send("$2000000000\r\n");
      const std::string chunk(1 << 20, 'x');
      while (!m_stopping && send(chunk)) {
      }
      return;
    }
    }
  }

  Fault m_fault;
  lameduck::test::LoopbackListener m_listener;
  std::atomic<bool> m_stopping{false};
  std::thread m_thread;
};

} // namespace

TEST_CASE("checkpoint store: Redis, against a real redis-server") {
  RedisProcess redis;
  auto store = lameduck::open_checkpoint_store(redis.url()).value();
  check_semantics(*store);
}

TEST_CASE("checkpoint store: a local file") {
  const TempDir dir;
  auto store = lameduck::open_checkpoint_store(dir.file("checkpoints.json")).value();
  check_semantics(*store);
}

TEST_CASE("checkpoint store: Redis keeps what it acknowledged across a restart (appendonly yes)") {
  RedisProcess redis(RedisProcess::Options{.append_only = true});
  auto store = lameduck::open_checkpoint_store(redis.url()).value();
  const CheckpointWriter drain{.worker = "agent-a", .termination_id = "uid-a"};
  REQUIRE(store->save(drain, tasks({{"t1", 100}, {"t2", 200}}), within()).value() == 2);
  // Killed, not stopped: what survives is what the append-only file had when the save was
  // acknowledged (appendfsync always), not what a clean shutdown writes.
  redis.stop(SIGKILL);
  CHECK_FALSE(store->claim("agent-b", 8, 10s, Deadline::after(2s)).has_value()); // down: an error, in time
  redis.start();
  const auto claimed = store->claim("agent-b", 8, 10s, within()); // the store connects again
  REQUIRE_MESSAGE(claimed.has_value(), (claimed ? "" : claimed.error().message));
  CHECK(ids_of(*claimed) == std::vector<std::string>{"t1", "t2"});
}

TEST_CASE("checkpoint store: Redis with a password from a file") {
  RedisProcess redis(RedisProcess::Options{.password = "s3cret-from-a-secret"});
  auto store = lameduck::open_checkpoint_store(redis.url()).value();
  CHECK(store->complete("t1", "agent-a", within()).value() == Completion::completed);
  CHECK(store->describe().find("s3cret") == std::string::npos);
  auto anonymous = lameduck::open_checkpoint_store("redis://127.0.0.1:" + std::to_string(redis.port()) + "/0").value();
  const auto refused = anonymous->complete("t1", "agent-a", within());
  REQUIRE_FALSE(refused.has_value());
  CHECK(refused.error().message.find("NOAUTH") != std::string::npos);
}

TEST_CASE("checkpoint store: a Redis that is down, hangs, resets, trickles or lies costs an error in time") {
  const std::vector<TaskCheckpoint> checkpoint = tasks({{"t1", 100}});
  const CheckpointWriter drain{.worker = "agent-a", .termination_id = "uid-a"};
  const auto bounded = [&](const std::string& url, const std::string& expected) {
    auto store = lameduck::open_checkpoint_store(url).value();
    const auto started = Clock::now();
    const auto saved = store->save(drain, checkpoint, Deadline::after(1s));
    const auto took = Clock::now() - started;
    REQUIRE_FALSE(saved.has_value());
    CAPTURE(saved.error().message);
    CHECK(saved.error().message.find(expected) != std::string::npos);
    CHECK(took < 3s); // the deadline's second, with room for a loaded machine
  };
  SUBCASE("nothing listens") {
    bounded("redis://127.0.0.1:" + std::to_string(lameduck::test::closed_port()) + "/0", "cannot connect");
  }
  SUBCASE("it accepts and never answers") {
    const FaultyRedis peer(FaultyRedis::Fault::hang);
    bounded(peer.url(), "no answer in time");
  }
  SUBCASE("it resets the connection") {
    const FaultyRedis peer(FaultyRedis::Fault::reset);
    bounded(peer.url(), "redis:");
  }
  SUBCASE("it trickles its answer past the deadline") {
    const FaultyRedis peer(FaultyRedis::Fault::trickle);
    bounded(peer.url(), "no answer in time");
  }
  SUBCASE("it answers in another protocol") {
    const FaultyRedis peer(FaultyRedis::Fault::garbage);
    bounded(peer.url(), "not RESP");
  }
  SUBCASE("it announces a 2 GB reply and streams it") {
    const FaultyRedis peer(FaultyRedis::Fault::huge);
    auto store = lameduck::open_checkpoint_store(peer.url()).value();
    const auto saved = store->save(drain, checkpoint, Deadline::after(20s));
    REQUIRE_FALSE(saved.has_value());
    CHECK(saved.error().message.find("larger than 64 MiB") != std::string::npos);
  }
}

TEST_CASE("checkpoint store: a file store's hostile neighbours") {
  const TempDir dir;
  const std::string path = dir.file("checkpoints.json");
  auto store = lameduck::open_checkpoint_store(path).value();
  const CheckpointWriter drain{.worker = "agent-a", .termination_id = "uid-a"};

  SUBCASE("a file that is not a store is reported and left as it is") {
    for (const std::string content : {"{not json", R"({"tasks":[1,2]})", R"({"tasks":{"t1":{"status":5}}})"}) {
      CAPTURE(content);
      std::ofstream(path) << content;
      const auto saved = store->save(drain, tasks({{"t1", 1}}), within());
      REQUIRE_FALSE(saved.has_value());
      CHECK(saved.error().message.find("not a checkpoint store") != std::string::npos);
      CHECK(lameduck::read_small_file(path)->content == content);
    }
  }
  SUBCASE("another process holding the lock past the deadline costs an error in time") {
    const int fd = ::open((path + ".lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    REQUIRE(fd >= 0);
    REQUIRE(::flock(fd, LOCK_EX) == 0);
    const auto started = Clock::now();
    const auto saved = store->save(drain, tasks({{"t1", 1}}), Deadline::after(300ms));
    CHECK_FALSE(saved.has_value());
    CHECK(Clock::now() - started < 2s);
    ::close(fd);
    CHECK(store->save(drain, tasks({{"t1", 1}}), within()).value() == 1);
  }
  SUBCASE("a URL that is neither a path nor redis:// is refused") {
    CHECK_FALSE(lameduck::open_checkpoint_store("relative.json").has_value());
    CHECK_FALSE(lameduck::open_checkpoint_store("memcached://127.0.0.1:11211").has_value());
    CHECK_FALSE(lameduck::open_checkpoint_store("rediss://127.0.0.1:6380/0").has_value());
  }
}
