#include "lameduck/state/redis_reply_reader.hpp"

#include <hiredis/hiredis.h>

namespace lameduck {
namespace {

// Each value is built where it belongs: the first in a JSON of its own (the root, which hiredis
// hands back and frees), the others in the slot their parent array made for them. A parent's
// slots are all made at once, so the pointers stay valid.
nlohmann::json* place(const redisReadTask* task, nlohmann::json value) {
  if (task->parent == nullptr) {
    return new nlohmann::json(std::move(value));
  }
  auto* parent = static_cast<nlohmann::json*>(task->parent->obj);
  auto& slot = (*parent)[static_cast<std::size_t>(task->idx)];
  slot = std::move(value);
  return &slot;
}

void* create_string(const redisReadTask* task, char* text, std::size_t length) {
  std::string value(text, length);
  if (task->type == REDIS_REPLY_ERROR) {
    return place(task, nlohmann::json{{"error", std::move(value)}});
  }
  return place(task, std::move(value));
}

void* create_array(const redisReadTask* task, int elements) {
  auto* reader = static_cast<RedisReplyReader*>(task->privdata);
  const std::size_t count = elements > 0 ? static_cast<std::size_t>(elements) : 0;
  if (reader == nullptr || count > reader->elements_left) {
    if (reader != nullptr) {
      reader->refused_array = true;
    }
    return nullptr; // hiredis reports it as out of memory; next() says what it was
  }
  reader->elements_left -= count;
  return place(task, nlohmann::json::array_t(count));
}

void* create_integer(const redisReadTask* task, long long value) {
  return place(task, value);
}

void* create_nil(const redisReadTask* task) {
  return place(task, nullptr);
}

void free_root(void* root) {
  delete static_cast<nlohmann::json*>(root);
}

redisReplyObjectFunctions k_functions{create_string, create_array, create_integer, create_nil, free_root};

} // namespace

RedisReplyReader::RedisReplyReader() : m_reader(redisReaderCreateWithFunctions(&k_functions)) {
  if (m_reader == nullptr) {
    throw std::bad_alloc();
  }
  m_reader->privdata = this;
}

RedisReplyReader::~RedisReplyReader() {
  redisReaderFree(m_reader);
}

std::size_t RedisReplyReader::buffered() const {
  return m_reader->len - m_reader->pos;
}

Expected<Done> RedisReplyReader::feed(std::string_view bytes) {
  if (buffered() + bytes.size() > k_max_redis_reply) {
    return unexpected("a reply larger than " + std::to_string(k_max_redis_reply >> 20) + " MiB");
  }
  if (redisReaderFeed(m_reader, bytes.data(), bytes.size()) != REDIS_OK) {
    return unexpected(std::string("out of memory"));
  }
  return Done{};
}

Expected<std::optional<RedisReply>> RedisReplyReader::next() {
  void* raw = nullptr;
  if (redisReaderGetReply(m_reader, &raw) != REDIS_OK) {
    if (refused_array) {
      return unexpected("a reply with more than " + std::to_string(k_max_redis_elements) + " array elements");
    }
    return unexpected("a reply that is not RESP: " + std::string(m_reader->errstr));
  }
  if (raw == nullptr) {
    return std::optional<RedisReply>{};
  }
  elements_left = k_max_redis_elements;
  const std::unique_ptr<nlohmann::json> root(static_cast<nlohmann::json*>(raw));
  return std::optional<RedisReply>(std::move(*root));
}

} // namespace lameduck
