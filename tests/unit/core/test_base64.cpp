#include "lameduck/core/base64.hpp"

#include <doctest/doctest.h>

TEST_CASE("base64 as etcd's gateway writes keys and values") {
  CHECK(lameduck::base64_encode("") == "");
  CHECK(lameduck::base64_encode("f") == "Zg==");
  CHECK(lameduck::base64_encode("fo") == "Zm8=");
  CHECK(lameduck::base64_encode("foo") == "Zm9v");
  CHECK(lameduck::base64_encode("services/agent/pod-1") == "c2VydmljZXMvYWdlbnQvcG9kLTE=");
  CHECK(lameduck::base64_encode(std::string("\xff\x00\xfe", 3)) == "/wD+");

  for (const std::string bytes : {"", "a", "ab", "abc", "abcd", "\x01\x80\xff"}) {
    CHECK(lameduck::base64_decode(lameduck::base64_encode(bytes)).value() == bytes);
  }
  CHECK_FALSE(lameduck::base64_decode("Zm9"));
  CHECK_FALSE(lameduck::base64_decode("Zm9*"));
  CHECK_FALSE(lameduck::base64_decode("Z=9v"));
  CHECK_FALSE(lameduck::base64_decode("Zg==Zm9v"));
}
