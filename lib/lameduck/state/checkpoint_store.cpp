#include "lameduck/state/checkpoint_store.hpp"

#include "lameduck/state/file_checkpoint_store.hpp"
#include "lameduck/state/redis_checkpoint_store.hpp"

namespace lameduck {

Expected<std::unique_ptr<CheckpointStore>> open_checkpoint_store(const std::string& url) {
  if (url.starts_with("redis://") || url.starts_with("rediss://")) {
    auto parsed = parse_redis_url(url);
    if (!parsed) {
      return unexpected(parsed.error());
    }
    return std::unique_ptr<CheckpointStore>(std::make_unique<RedisCheckpointStore>(std::move(*parsed)));
  }
  if (url.find("://") != std::string::npos) {
    return unexpected("not a checkpoint store: " + url + " (a redis:// URL or a file path)");
  }
  if (url.empty() || (url[0] != '/' && !url.starts_with("./"))) {
    return unexpected("a file checkpoint store needs an absolute path (or one starting with ./): \"" + url + "\"");
  }
  return std::unique_ptr<CheckpointStore>(std::make_unique<FileCheckpointStore>(url));
}

const char* completion_name(Completion completion) {
  switch (completion) {
  case Completion::completed:
    return "completed";
  case Completion::already_done:
    return "already_done";
  case Completion::not_claimant:
    return "not_claimant";
  }
  return "not_claimant";
}

} // namespace lameduck
