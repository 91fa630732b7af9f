#include "lameduck/kube/endpoint_slice.hpp"

#include "lameduck/core/durable_file.hpp"
#include "support/kube_fixtures.hpp"

#include <doctest/doctest.h>

#include <sstream>

using lameduck::pod_in_slice;
using lameduck::PodInSlice;
using lameduck::PodMatch;

namespace {

nlohmann::json fixture(const std::string& name) {
  return nlohmann::json::parse(
      lameduck::read_small_file(std::string(LAMEDUCK_FIXTURES_DIR) + "/k8s/" + name).value().content);
}

const PodMatch k_pod{lameduck::test::k_pod_uid, {lameduck::test::k_pod_ipv4, lameduck::test::k_pod_ipv6}};

} // namespace

TEST_CASE("pod_in_slice on what a real apiserver serves") {
  const auto list = fixture("endpointslice-list.json");
  REQUIRE(list["items"].size() == 3);
  CHECK(pod_in_slice(list["items"][0], k_pod) == PodInSlice::ready); // IPv4
  CHECK(pod_in_slice(list["items"][1], k_pod) == PodInSlice::ready); // IPv6
  CHECK(pod_in_slice(list["items"][2], k_pod) == PodInSlice::absent); // endpoints: null

  SUBCASE("the recorded watch turns it not ready in both families") {
    std::istringstream lines(lameduck::read_small_file(std::string(LAMEDUCK_FIXTURES_DIR) + "/k8s/watch-events.jsonl")
                                 .value()
                                 .content);
    std::map<std::string, PodInSlice> states;
    for (std::string line; std::getline(lines, line);) {
      const auto event = nlohmann::json::parse(line);
      if (event["type"] == "MODIFIED" || event["type"] == "ADDED") {
        states[event["object"]["metadata"]["name"]] = pod_in_slice(event["object"], k_pod);
      }
    }
    for (const auto& [name, state] : states) {
      CAPTURE(name);
      CHECK(state != PodInSlice::ready);
    }
  }
}

TEST_CASE("pod_in_slice rules") {
  using lameduck::test::endpoint_entry;
  using lameduck::test::slice_object;
  const auto slice_with = [](nlohmann::json endpoints) {
    return slice_object("s", "svc", "IPv4", std::move(endpoints));
  };
  SUBCASE("missing conditions mean ready; ready:false means not ready") {
    auto entry = endpoint_entry("10.0.3.52", lameduck::test::k_pod_uid);
    entry.erase("conditions");
    CHECK(pod_in_slice(slice_with({entry}), k_pod) == PodInSlice::ready);
    entry["conditions"] = nlohmann::json::object();
    CHECK(pod_in_slice(slice_with({entry}), k_pod) == PodInSlice::ready);
    entry["conditions"] = {{"ready", false}, {"serving", true}, {"terminating", true}};
    CHECK(pod_in_slice(slice_with({entry}), k_pod) == PodInSlice::not_ready);
  }
  SUBCASE("matched by targetRef.uid first, by address without one") {
    CHECK(pod_in_slice(slice_with({endpoint_entry("10.0.3.52", "another-uid")}), k_pod) == PodInSlice::absent);
    auto no_ref = endpoint_entry("fd00:10:0:3::52", "");
    no_ref.erase("targetRef");
    CHECK(pod_in_slice(slice_with({no_ref}), k_pod) == PodInSlice::ready);
    CHECK(pod_in_slice(slice_with({no_ref}), PodMatch{"", {}}) == PodInSlice::absent);
  }
  SUBCASE("listed twice: ready wins while any entry is ready") {
    CHECK(pod_in_slice(slice_with({endpoint_entry("10.0.3.52", lameduck::test::k_pod_uid, false),
                                   endpoint_entry("10.0.3.53", lameduck::test::k_pod_uid, true)}),
                       k_pod) == PodInSlice::ready);
  }
  SUBCASE("strange but legal objects: unknown fields, odd unicode, huge integers, wrong types") {
    auto slice = slice_with({endpoint_entry("10.0.3.52", lameduck::test::k_pod_uid, false)});
    slice["metadata"]["annotations"] = {{"note", "\u00e9\u2603\U0001F986 \"quoted\""}};
    slice["metadata"]["generation"] = 18446744073709551615ULL;
    slice["endpoints"][0]["hints"] = {{"forZones", {{{"name", "eu-west-1a"}}}}};
    slice["endpoints"][0]["deprecatedTopology"] = nlohmann::json::object();
    CHECK(pod_in_slice(slice, k_pod) == PodInSlice::not_ready);
    CHECK(pod_in_slice(nlohmann::json::parse(R"({"endpoints":[7,"x",null,{"addresses":5}]})"), k_pod) ==
          PodInSlice::absent);
    CHECK(pod_in_slice(nlohmann::json(nullptr), k_pod) == PodInSlice::absent);
  }
}
