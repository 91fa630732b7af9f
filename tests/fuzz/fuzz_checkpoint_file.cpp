// A checkpoint file that a crash, an operator or another program has mangled: never a crash;
// a file the store refuses is left byte for byte as it was; one it takes keeps working.

#include "fuzz_target.hpp"
#include "lameduck/core/durable_file.hpp"
#include "lameduck/state/file_checkpoint_store.hpp"

#include <unistd.h>

#include <fstream>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace std::chrono_literals;
  static const std::string path = "/tmp/lameduck-fuzz-checkpoints-" + std::to_string(::getpid()) + ".json";
  const std::string content(lameduck::fuzz::as_text(data, size));
  std::ofstream(path, std::ios::binary | std::ios::trunc) << content;
  lameduck::FileCheckpointStore store(path);
  const auto deadline = lameduck::Deadline::after(10s);
  const lameduck::CheckpointWriter writer{.worker = "fuzz", .termination_id = "uid"};
  const auto saved = store.save(writer, {{.task_id = "fuzz-task", .state = {{"doneMs", 1}}}}, deadline);
  if (!saved) {
    lameduck::fuzz::require(lameduck::read_small_file(path, std::size_t{1} << 30)->content == content);
    return 0;
  }
  const auto records = store.records(deadline);
  lameduck::fuzz::require(records.has_value());
  const auto claimed = store.claim("successor", 1000, 10s, deadline);
  lameduck::fuzz::require(claimed.has_value());
  const auto completed = store.complete("fuzz-task", "successor", deadline);
  lameduck::fuzz::require(completed.has_value());
  return 0;
}
