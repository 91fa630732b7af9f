// The parser of what any peer on the pod network sends readyz-toggle: never a crash, never a
// read past the input, and a parsed head that agrees with its own input.

#include "fuzz_target.hpp"
#include "lameduck/http/http_request_head.hpp"

#include <variant>

using lameduck::fuzz::require;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input = lameduck::fuzz::as_text(data, size);
  const auto parsed = lameduck::parse_request_head(input, 1024);
  if (const auto* head = std::get_if<lameduck::HttpRequestHead>(&parsed)) {
    require(head->head_bytes <= input.size() && head->head_bytes <= 1024);
    require(!head->method.empty() && !head->target.empty());
    // The views point into the input, inside the head.
    require(head->method.data() >= input.data() && head->target.data() + head->target.size() <= input.data() + head->head_bytes);
    require(head->target.substr(0, head->path.size()) == head->path);
    // Parsing the head alone gives the same head: nothing after it changed the outcome.
    const auto again = lameduck::parse_request_head(input.substr(0, head->head_bytes), 1024);
    const auto* same = std::get_if<lameduck::HttpRequestHead>(&again);
    require(same != nullptr && same->head_bytes == head->head_bytes && same->content_length == head->content_length &&
            same->keep_alive == head->keep_alive && same->method == head->method && same->target == head->target);
  } else if (const auto* refusal = std::get_if<lameduck::HttpHeadRefusal>(&parsed)) {
    require(refusal->status >= 400 && refusal->status < 600 && !refusal->reason.empty());
  }
  return 0;
}
