// Checks rendered manifests (multi-document YAML files given as arguments) against what the
// cluster would enforce: Kubernetes' own schemas (kubernetes-models validates each object),
// the Pod Security Standard "restricted" profile on every container, prestop's --grace-period
// against terminationGracePeriodSeconds, and the RBAC rules prestop needs. Prints one JSON
// line per file with what it checked; exits 1 with the reasons on the first failure.
//
//   node check.mjs [--expect-events on|off] FILE...

import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";
import { Deployment } from "kubernetes-models/apps/v1";
import { Service, ServiceAccount } from "kubernetes-models/v1";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1";
import { Role, RoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1";

const models = { Deployment, Service, ServiceAccount, PodDisruptionBudget, Role, RoleBinding };
const failures = [];
const fail = (file, message) => failures.push(`${file}: ${message}`);

let expectEvents = null;
const files = [];
for (let i = 2; i < process.argv.length; i++) {
  if (process.argv[i] === "--expect-events") {
    expectEvents = process.argv[++i] === "on";
  } else {
    files.push(process.argv[i]);
  }
}

function restricted(file, pod, container) {
  const where = `container ${container.name}`;
  const context = { ...(pod.securityContext ?? {}), ...(container.securityContext ?? {}) };
  if (context.runAsNonRoot !== true) fail(file, `${where}: runAsNonRoot is not true`);
  if (container.securityContext?.allowPrivilegeEscalation !== false) fail(file, `${where}: allowPrivilegeEscalation is not false`);
  if (!(container.securityContext?.capabilities?.drop ?? []).includes("ALL")) fail(file, `${where}: capabilities do not drop ALL`);
  const seccomp = context.seccompProfile?.type;
  if (seccomp !== "RuntimeDefault" && seccomp !== "Localhost") fail(file, `${where}: seccompProfile is not RuntimeDefault`);
  if (container.securityContext?.readOnlyRootFilesystem !== true) fail(file, `${where}: the root filesystem is writable`);
}

function checkPod(file, pod) {
  const containers = [...(pod.initContainers ?? []), ...pod.containers];
  containers.forEach((container) => restricted(file, pod, container));
  const hooked = pod.containers.filter((c) => c.lifecycle?.preStop?.exec);
  if (hooked.length !== 1) fail(file, `${hooked.length} containers have a preStop exec hook, not 1`);
  for (const container of hooked) {
    const command = container.lifecycle.preStop.exec.command;
    const grace = command.find((arg) => arg.startsWith("--grace-period="));
    if (grace !== `--grace-period=${pod.terminationGracePeriodSeconds}s`) {
      fail(file, `prestop has ${grace} but terminationGracePeriodSeconds is ${pod.terminationGracePeriodSeconds}`);
    }
    const env = Object.fromEntries((container.env ?? []).map((e) => [e.name, e.valueFrom?.fieldRef?.fieldPath]));
    for (const [name, path] of [["POD_NAME", "metadata.name"], ["POD_NAMESPACE", "metadata.namespace"],
                                ["POD_UID", "metadata.uid"], ["POD_IPS", "status.podIPs"]]) {
      if (env[name] !== path) fail(file, `${name} is not the downward API's ${path}`);
    }
    const probe = container.readinessProbe?.httpGet;
    if (probe?.path !== "/readyz") fail(file, "the agent's readinessProbe does not ask /readyz");
  }
  const sidecars = containers.filter((c) => (c.args ?? [])[0] === "serve");
  if (sidecars.length !== 1) fail(file, `${sidecars.length} readyz-toggle servers, not 1`);
  return hooked.map((c) => c.lifecycle.preStop.exec.command);
}

function checkRole(file, role) {
  const allows = (group, resource, verb) =>
    role.rules.some((r) => r.apiGroups.includes(group) && r.resources.includes(resource) && r.verbs.includes(verb));
  for (const verb of ["get", "list", "watch"]) {
    if (!allows("discovery.k8s.io", "endpointslices", verb)) fail(file, `the Role lacks ${verb} endpointslices`);
  }
  if (!allows("", "pods", "get")) fail(file, "the Role lacks get pods");
  const events = allows("", "events", "create");
  if (expectEvents !== null && events !== expectEvents) fail(file, `create events is ${events ? "granted" : "missing"}`);
  if (role.rules.some((r) => r.verbs.includes("*") || r.resources.includes("*"))) fail(file, "the Role has a wildcard");
}

for (const file of files) {
  const kinds = {};
  let hooks = [];
  for (const document of parseAllDocuments(readFileSync(file, "utf8"))) {
    const object = document.toJS();
    if (!object) continue;
    kinds[object.kind] = (kinds[object.kind] ?? 0) + 1;
    const Model = models[object.kind];
    if (!Model) {
      fail(file, `no schema for kind ${object.kind}`);
      continue;
    }
    try {
      new Model(object).validate();
    } catch (error) {
      fail(file, `${object.kind} ${object.metadata?.name}: ${error.message}`);
    }
    if (object.kind === "Deployment") hooks = checkPod(file, object.spec.template.spec);
    if (object.kind === "Role") checkRole(file, object);
  }
  console.log(JSON.stringify({ file, kinds, prestop: hooks[0] ?? null }));
}
if (failures.length > 0) {
  console.error(failures.join("\n"));
  process.exit(1);
}
