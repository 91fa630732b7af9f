// The checks that rendered charts (check.mjs) and README.md's snippets (readme.mjs) share: what
// the cluster would enforce, and what would keep the pod from starting or from stopping well.
//   - each object against Kubernetes' own schema (kubernetes-models)
//   - the Pod Security Standard "restricted" profile on every container
//   - prestop's --grace-period against terminationGracePeriodSeconds
//   - the downward-API environment prestop reads, and the probe on /readyz
//   - the toolkit's paths: no volume hides the tools in their own image, the tools that hooks run
//     are where the install container put them, and every state file is on a writable volume
//   - the RBAC rules prestop needs, bound to the pod's ServiceAccount
// Each check reports through fail(message) and goes on, so one run names every problem.

import { posix } from "node:path";
import { Deployment } from "kubernetes-models/apps/v1";
import { Pod, Service, ServiceAccount } from "kubernetes-models/v1";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1";
import { Role, RoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1";

export const models = { Pod, Deployment, Service, ServiceAccount, PodDisruptionBudget, Role, RoleBinding };

// The toolkit image (deploy/Dockerfile): its tools, and the entrypoint among them.
const toolsDir = "/lameduck/bin";
const entrypoint = `${toolsDir}/readyz-toggle`;
const tools = ["prestop", "readyz-toggle", "drain-wait"];
const defaultPrestopStateDir = "/tmp/lameduck"; // prestop's --state-dir when not given

// A flag's value, written either as one argument (--name=value) or as two (--name value).
export function flagValue(args, name) {
  for (let i = 0; i < args.length; i++) {
    if (args[i].startsWith(`${name}=`)) return args[i].slice(name.length + 1);
    if (args[i] === name) return args[i + 1];
  }
  return undefined;
}

const normalize = (path) => posix.normalize(path).replace(/(.)\/+$/, "$1");
// Whether a volume mounted at mountPath covers path (path is the mount point or lies under it).
const covers = (mountPath, path) => {
  const mount = normalize(mountPath);
  return mount === "/" || path === mount || path.startsWith(`${mount}/`);
};
// The mount that path lies on: the deepest one covering it, as the kernel resolves it.
const mountFor = (container, path) =>
  (container.volumeMounts ?? [])
    .filter((m) => covers(m.mountPath, normalize(path)))
    .sort((a, b) => normalize(b.mountPath).length - normalize(a.mountPath).length)[0];

function imageRepository(image) {
  const name = image.split("@")[0];
  const colon = name.lastIndexOf(":");
  return colon > name.lastIndexOf("/") ? name.slice(0, colon) : name;
}

export function runsToolkitImage(container) {
  const repository = imageRepository(container.image ?? "");
  return repository === "lameduck" || repository.endsWith("/lameduck") ||
    (container.command?.[0] ?? "").startsWith(`${toolsDir}/`);
}

function restricted(fail, pod, container) {
  const where = `container ${container.name}`;
  const context = { ...(pod.securityContext ?? {}), ...(container.securityContext ?? {}) };
  if (context.runAsNonRoot !== true) fail(`${where}: runAsNonRoot is not true`);
  if (container.securityContext?.allowPrivilegeEscalation !== false) fail(`${where}: allowPrivilegeEscalation is not false`);
  if (!(container.securityContext?.capabilities?.drop ?? []).includes("ALL")) fail(`${where}: capabilities do not drop ALL`);
  const seccomp = context.seccompProfile?.type;
  if (seccomp !== "RuntimeDefault" && seccomp !== "Localhost") fail(`${where}: seccompProfile is not RuntimeDefault`);
  if (container.securityContext?.readOnlyRootFilesystem !== true) fail(`${where}: the root filesystem is writable`);
}

// Where the volumes a pod mounts lead, and what lives there.
function checkPaths(fail, pod, containers) {
  const volumes = new Set((pod.volumes ?? []).map((v) => v.name));
  for (const container of containers) {
    for (const mount of container.volumeMounts ?? []) {
      if (!volumes.has(mount.name)) fail(`container ${container.name}: mounts ${mount.name}, which is not a volume of the pod`);
    }
  }
  const writable = (container, path) => {
    const mount = mountFor(container, path);
    return mount && !mount.readOnly ? mount : undefined;
  };

  // In the toolkit image's own containers, a volume over /lameduck/bin (or a parent of it)
  // replaces the image's files there: the entrypoint is gone and the container cannot start.
  for (const container of containers.filter(runsToolkitImage)) {
    for (const mount of container.volumeMounts ?? []) {
      if (covers(mount.mountPath, toolsDir)) {
        fail(`container ${container.name}: the volume ${mount.name} mounted at ${mount.mountPath} hides ` +
             `${entrypoint}, the image's entrypoint (mount it elsewhere, e.g. /lameduck/install)`);
      }
    }
  }

  // readyz-toggle does not create the state file's directory, and the root filesystem is
  // read-only: the directory must be a writable volume's mount point.
  for (const container of containers) {
    const args = [...(container.command ?? []), ...(container.args ?? [])];
    const stateFile = flagValue(args, "--state-file");
    if (stateFile === undefined) continue;
    const dir = posix.dirname(normalize(stateFile));
    const mount = writable(container, dir);
    if (!mount || normalize(mount.mountPath) !== dir) {
      fail(`container ${container.name}: --state-file ${stateFile}, but ${dir} is not a writable volume mounted in it`);
    }
  }

  // Where `readyz-toggle install DIR` puts the tools: a volume, and a directory inside it.
  const installed = [];
  for (const container of containers) {
    const args = container.args ?? [];
    if (!runsToolkitImage(container) || args[0] !== "install") continue;
    const mount = writable(container, normalize(args[1] ?? ""));
    if (!mount) {
      fail(`container ${container.name}: installs into ${args[1]}, which is not a writable volume mounted in it`);
      continue;
    }
    installed.push({ volume: mount.name, dir: posix.relative(normalize(mount.mountPath), normalize(args[1])) });
  }
  // Every hook that runs a tool in another image's container finds it where install put it.
  for (const container of containers.filter((c) => !runsToolkitImage(c))) {
    for (const hook of ["preStop", "postStart"]) {
      const command = container.lifecycle?.[hook]?.exec?.command ?? [];
      if (!tools.includes(posix.basename(command[0] ?? ""))) continue;
      const dir = posix.dirname(normalize(command[0]));
      const mount = mountFor(container, dir);
      const relative = mount && posix.relative(normalize(mount.mountPath), dir);
      if (!installed.some((i) => i.volume === mount?.name && i.dir === relative)) {
        fail(`container ${container.name}: its ${hook} hook runs ${command[0]}, but no install container puts the tools there`);
      }
    }
  }

  // prestop keeps its lock and result in --state-dir, which it creates.
  for (const container of containers) {
    const command = container.lifecycle?.preStop?.exec?.command ?? [];
    if (posix.basename(command[0] ?? "") !== "prestop") continue;
    const stateDir = flagValue(command, "--state-dir") ?? defaultPrestopStateDir;
    if (container.securityContext?.readOnlyRootFilesystem === true && !writable(container, normalize(stateDir))) {
      fail(`container ${container.name}: prestop's --state-dir ${stateDir} is on the read-only root filesystem`);
    }
  }
}

// A pod spec: returns the preStop command of the one container that has the hook.
export function checkPod(fail, pod) {
  const containers = [...(pod.initContainers ?? []), ...(pod.containers ?? [])];
  containers.forEach((container) => restricted(fail, pod, container));
  checkPaths(fail, pod, containers);
  // A sidecar's `prestop --hold-until-drained` waits for the agent's prestop: not a second agent.
  const holds = (c) => (c.lifecycle?.preStop?.exec?.command ?? []).includes("--hold-until-drained");
  const hooked = (pod.containers ?? []).filter((c) => c.lifecycle?.preStop?.exec && !holds(c));
  if (hooked.length !== 1) fail(`${hooked.length} containers have a preStop exec hook, not 1`);
  const grace = pod.terminationGracePeriodSeconds ?? 30; // Kubernetes' default
  for (const container of (pod.containers ?? []).filter(holds)) {
    const command = container.lifecycle.preStop.exec.command;
    const flag = flagValue(command, "--grace-period");
    if (flag !== `${grace}s`) fail(`${container.name}'s hold has --grace-period ${flag}, not ${grace}s`);
    const env = Object.fromEntries((container.env ?? []).map((e) => [e.name, e.valueFrom?.fieldRef?.fieldPath]));
    if (env.POD_UID !== "metadata.uid") fail(`${container.name}'s hold has no POD_UID: it cannot find the agent's result`);
    const agentStateDir = hooked[0] && (flagValue(hooked[0].lifecycle.preStop.exec.command, "--state-dir") ?? defaultPrestopStateDir);
    const stateDir = flagValue(command, "--state-dir") ?? defaultPrestopStateDir;
    if (hooked[0] && stateDir !== agentStateDir) fail(`${container.name}'s hold watches ${stateDir}, not the agent's ${agentStateDir}`);
  }
  // A signal step names a process of another container: only a shared process namespace shows it.
  for (const container of hooked) {
    const command = container.lifecycle.preStop.exec.command;
    const steps = command.flatMap((arg, i) =>
      arg.startsWith("--drain-step=") ? [arg.slice("--drain-step=".length)] : command[i - 1] === "--drain-step" ? [arg] : []);
    const signals = steps.filter((step) => step.startsWith("signal:"));
    if (signals.length > 0 && (pod.containers ?? []).length > 1 && pod.shareProcessNamespace !== true) {
      fail(`a signal drain step (${signals[0]}) without shareProcessNamespace: true`);
    }
  }
  for (const container of hooked) {
    const command = container.lifecycle.preStop.exec.command;
    const flag = flagValue(command, "--grace-period");
    if (flag !== `${grace}s`) fail(`prestop has --grace-period ${flag} but terminationGracePeriodSeconds is ${grace}`);
    const env = Object.fromEntries((container.env ?? []).map((e) => [e.name, e.valueFrom?.fieldRef?.fieldPath]));
    for (const [name, path] of [["POD_NAME", "metadata.name"], ["POD_NAMESPACE", "metadata.namespace"],
                                ["POD_UID", "metadata.uid"], ["POD_IPS", "status.podIPs"]]) {
      if (env[name] !== path) fail(`${name} is not the downward API's ${path}`);
    }
    const probe = container.readinessProbe?.httpGet;
    if (probe?.path !== "/readyz") fail("the agent's readinessProbe does not ask /readyz");
  }
  const sidecars = containers.filter((c) => (c.args ?? [])[0] === "serve");
  if (sidecars.length !== 1) fail(`${sidecars.length} readyz-toggle servers, not 1`);
  return hooked.map((c) => c.lifecycle.preStop.exec.command);
}

export function checkRole(fail, role, { expectEvents = null } = {}) {
  const allows = (group, resource, verb) =>
    role.rules.some((r) => r.apiGroups.includes(group) && r.resources.includes(resource) && r.verbs.includes(verb));
  for (const verb of ["get", "list", "watch"]) {
    if (!allows("discovery.k8s.io", "endpointslices", verb)) fail(`the Role lacks ${verb} endpointslices`);
  }
  if (!allows("", "pods", "get")) fail("the Role lacks get pods");
  const events = allows("", "events", "create");
  if (expectEvents !== null && events !== expectEvents) fail(`create events is ${events ? "granted" : "missing"}`);
  if (role.rules.some((r) => r.verbs.includes("*") || r.resources.includes("*"))) fail("the Role has a wildcard");
}

// The objects of one manifest: each validated by its schema; a Deployment's or Pod's spec and
// a Role checked as above; the Role bound to the pod's ServiceAccount. Returns the kinds seen
// and the preStop command (null when there is none).
export function checkObjects(fail, objects, { expectEvents = null } = {}) {
  const kinds = {};
  let hooks = [];
  let pod = null;
  const roles = [];
  const bindings = [];
  for (const object of objects) {
    kinds[object.kind] = (kinds[object.kind] ?? 0) + 1;
    const Model = models[object.kind];
    if (!Model) {
      fail(`no schema for kind ${object.kind}`);
      continue;
    }
    try {
      new Model(object).validate();
    } catch (error) {
      fail(`${object.kind} ${object.metadata?.name}: ${error.message}`);
    }
    if (object.kind === "Deployment") pod = object.spec?.template?.spec;
    if (object.kind === "Pod") pod = object.spec;
    if (object.kind === "Role") {
      roles.push(object);
      checkRole(fail, object, { expectEvents });
    }
    if (object.kind === "RoleBinding") bindings.push(object);
  }
  if (pod) hooks = checkPod(fail, pod);
  if (pod && roles.length > 0) {
    const account = pod.serviceAccountName ?? "default";
    const bound = bindings.some((b) => b.roleRef?.kind === "Role" &&
      roles.some((r) => r.metadata?.name === b.roleRef.name) &&
      (b.subjects ?? []).some((s) => s.kind === "ServiceAccount" && s.name === account));
    if (!bound) fail(`no RoleBinding binds the Role to the pod's ServiceAccount ${account}`);
  }
  return { kinds, prestop: hooks[0] ?? null };
}
