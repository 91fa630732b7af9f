// EndpointSlices and watch events as the API (or something pretending to be it) sends them:
// any bytes, never a crash.

#include "fuzz_target.hpp"
#include "lameduck/kube/endpoint_slice.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto json = nlohmann::json::parse(lameduck::fuzz::as_text(data, size), nullptr, /*allow_exceptions=*/false);
  const lameduck::PodMatch pod{"e2b8c1f4-7a3d-4d6b-9c0e-5f1a2b3c4d5e", {"10.0.3.52", "fd00:10:0:3::52"}};
  (void)lameduck::pod_in_slice(json, pod);
  if (json.is_object() && json.contains("object")) {
    (void)lameduck::pod_in_slice(json["object"], pod); // a watch event
  }
  if (json.is_object() && json.contains("items") && json["items"].is_array()) {
    for (const auto& item : json["items"]) {
      (void)lameduck::pod_in_slice(item, pod);
    }
  }
  return 0;
}
