#pragma once

// prestop's deregister phase: tell the registries outside Kubernetes that knew this agent that
// it is leaving, before the endpoint watch, so that nothing new is routed here from them while
// Kubernetes catches up. Two kinds, each optional, run side by side under the phase's deadline:
//  - etcd v3: revoke the lease stored at a key (which removes every key the agent registered
//    under it), and/or delete keys;
//  - any HTTP registry: one request to a URL (Consul's PUT /v1/agent/service/deregister/<id>).
// Both are idempotent: a key, lease or service that is already gone is success.

#include "lameduck/core/deadline.hpp"
#include "lameduck/core/log.hpp"

#include <string>
#include <vector>

namespace lameduck {

struct EtcdDeregistration {
  std::vector<std::string> endpoints; // URLs; empty: no etcd
  std::vector<std::string> keys;       // deleted
  std::vector<std::string> lease_keys; // the lease each names is revoked
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  std::string user;
  std::string password_file;
};

struct HttpDeregistration {
  std::string url; // empty: none
  std::string method = "PUT";
};

struct DeregistrationOptions {
  EtcdDeregistration etcd;
  HttpDeregistration http;

  bool configured() const { return !etcd.endpoints.empty() || !http.url.empty(); }
};

struct DeregistrationResult {
  bool complete = false; // every registry confirmed
  std::string reason;
  LogFields details = LogFields::object();
};

DeregistrationResult deregister(const DeregistrationOptions& options, const Deadline& deadline, const Logger& logger);

} // namespace lameduck
