"""python3-kubernetes against the fake apiserver: list and watch EndpointSlices, get a pod.

Usage: python_client_check.py URL CA_FILE TOKEN
Prints one JSON line with what the client saw; the C++ test asserts on it.
"""
import json
import sys

from kubernetes import client, watch

url, ca_file, token = sys.argv[1:4]
configuration = client.Configuration()
configuration.host = url
configuration.ssl_ca_cert = ca_file
configuration.api_key = {"authorization": "Bearer " + token}
api_client = client.ApiClient(configuration)
discovery = client.DiscoveryV1Api(api_client)
core = client.CoreV1Api(api_client)

seen = {}
# A real apiserver serves `endpoints: null` for a slice with no endpoints yet; this client
# refuses it (kubernetes-client/python issues 2214 and 2423). The fake serves it all the same.
try:
    discovery.list_namespaced_endpoint_slice("payments")
    seen["null_endpoints"] = "accepted"
except ValueError as error:
    seen["null_endpoints"] = str(error)

listed = discovery.list_namespaced_endpoint_slice("clean", label_selector="kubernetes.io/service-name=ledger-agent")
seen["listed"] = sorted(item.metadata.name for item in listed.items)
events = []
for event in watch.Watch().stream(discovery.list_namespaced_endpoint_slice, "clean",
                                  resource_version=listed.metadata.resource_version, timeout_seconds=2):
    ready = [e.conditions.ready for e in event["object"].endpoints or [] if e.target_ref and
             e.target_ref.name == "ledger-agent-5c9b7d8f6-qwz4t"]
    events.append([event["type"], event["object"].metadata.name, ready])
seen["watched"] = events
pod = core.read_namespaced_pod("ledger-agent-5c9b7d8f6-qwz4t", "clean")
seen["pod_deleting"] = pod.metadata.deletion_timestamp is not None
print(json.dumps(seen))
