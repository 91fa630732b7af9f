#include "lameduck/kube/endpoint_slice.hpp"

#include <algorithm>

namespace lameduck {

namespace {

bool is_this_pod(const nlohmann::json& endpoint, const PodMatch& pod) {
  if (const auto target = endpoint.find("targetRef"); target != endpoint.end() && target->is_object()) {
    if (const auto uid = target->find("uid"); uid != target->end() && uid->is_string() && !pod.uid.empty()) {
      return uid->get_ref<const std::string&>() == pod.uid;
    }
  }
  const auto addresses = endpoint.find("addresses");
  if (addresses == endpoint.end() || !addresses->is_array()) {
    return false;
  }
  return std::any_of(addresses->begin(), addresses->end(), [&pod](const nlohmann::json& address) {
    return address.is_string() &&
           std::find(pod.ips.begin(), pod.ips.end(), address.get_ref<const std::string&>()) != pod.ips.end();
  });
}

bool is_ready(const nlohmann::json& endpoint) {
  const auto conditions = endpoint.find("conditions");
  if (conditions == endpoint.end() || !conditions->is_object()) {
    return true;
  }
  const auto ready = conditions->find("ready");
  return ready == conditions->end() || !ready->is_boolean() || ready->get<bool>();
}

} // namespace

PodInSlice pod_in_slice(const nlohmann::json& slice, const PodMatch& pod) {
  if (!slice.is_object()) {
    return PodInSlice::absent;
  }
  const auto endpoints = slice.find("endpoints");
  if (endpoints == slice.end() || !endpoints->is_array()) {
    return PodInSlice::absent;
  }
  PodInSlice state = PodInSlice::absent;
  for (const auto& endpoint : *endpoints) {
    if (!endpoint.is_object() || !is_this_pod(endpoint, pod)) {
      continue;
    }
    if (is_ready(endpoint)) {
      return PodInSlice::ready;
    }
    state = PodInSlice::not_ready;
  }
  return state;
}

} // namespace lameduck
