// Checks every ```yaml block of README.md by what it is, with the checks the chart renders get
// (checks.mjs), so that a snippet people copy is one that works:
//   - a pod spec (top-level `spec:` with containers, then perhaps `---` and RBAC objects): made
//     a Pod and checked with the objects after it; its preStop command goes to prestop --plan
//   - a lifecycle fragment (top-level `lifecycle:`): put in place of the pod spec's agent
//     container's hooks and that pod checked again; its preStop command goes to prestop --plan
//   - Helm values (top-level `lameduck:`): the agent chart rendered with them (-f) and checked
//     like the chart's own renders, prestop --plan included
//   - a Chart.yaml `dependencies:` fragment: the lameduck chart's name and version
// A block that is none of these fails: every snippet is checked, or the test says so.
//
//   node readme.mjs --readme README.md --chart AGENT_CHART_DIR --library LIBRARY_CHART_DIR
//                   --helm HELM --prestop PRESTOP

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { parse, parseAllDocuments } from "yaml";
import { checkObjects, checkPod } from "./checks.mjs";

const options = {};
for (let i = 2; i < process.argv.length; i += 2) options[process.argv[i].replace(/^--/, "")] = process.argv[i + 1];
for (const name of ["readme", "chart", "library", "helm", "prestop"]) {
  if (!options[name]) {
    console.error("usage: node readme.mjs --readme FILE --chart DIR --library DIR --helm HELM --prestop PRESTOP");
    process.exit(2);
  }
}

const failures = [];
const work = mkdtempSync(join(tmpdir(), "lameduck-readme-"));
process.on("exit", () => rmSync(work, { recursive: true, force: true }));

// The ```yaml (or ```yml) blocks, each with the line its text starts on.
function yamlBlocks(text) {
  const blocks = [];
  let block = null;
  text.split("\n").forEach((line, index) => {
    if (block === null) {
      if (/^\s*```\s*ya?ml\s*$/i.test(line)) block = { line: index + 2, lines: [] };
    } else if (/^\s*```\s*$/.test(line)) {
      blocks.push({ line: block.line, text: block.lines.join("\n") + "\n" });
      block = null;
    } else {
      block.lines.push(line);
    }
  });
  if (block !== null) blocks.push({ line: block.line, text: null });
  return blocks;
}

// prestop's own parser on a hook's command line, in the environment the pod gives it.
function plan(fail, command) {
  const result = spawnSync(options.prestop, [...command.slice(1), "--plan"], {
    encoding: "utf8",
    env: { ...process.env, POD_NAME: "my-agent-0", POD_NAMESPACE: "payments", POD_UID: "uid-0", POD_IPS: "10.0.0.7" },
  });
  const output = `${result.stdout ?? ""}${result.stderr ?? ""}`.trim();
  if (result.status !== 0) fail(`prestop rejects the preStop command: ${output || result.error}`);
  else if (!/^prestop plan: deadline/m.test(output)) fail(`prestop --plan said: ${output}`);
}

const isPodSpec = (object) => Array.isArray(object?.spec?.containers);
const agentOf = (spec) => spec.containers.find((c) => c.lifecycle?.preStop?.exec) ?? spec.containers[0];

function checkPodSpec(fail, documents) {
  const [first, ...rest] = documents;
  const extra = Object.keys(first).filter((key) => key !== "spec");
  if (extra.length > 0) fail(`a pod spec with other top-level keys: ${extra.join(", ")}`);
  const pod = { apiVersion: "v1", kind: "Pod", metadata: { name: "my-agent-0", namespace: "payments" }, spec: first.spec };
  const { kinds, prestop } = checkObjects(fail, [pod, ...rest]);
  if (prestop) plan(fail, prestop);
  return `a pod spec (${Object.entries(kinds).map(([kind, n]) => (n > 1 ? `${n} ${kind}s` : kind)).join(", ")})`;
}

function checkLifecycle(fail, fragment, podSpec) {
  const command = fragment.lifecycle?.preStop?.exec?.command;
  if (!Array.isArray(command)) {
    fail("a lifecycle fragment without a preStop exec command");
    return "a lifecycle fragment";
  }
  if (podSpec) {
    // The fragment is the agent container's lifecycle in the README's pod: it must hold there.
    // Only what the fragment changes is reported here: the pod spec's own block reports the rest.
    const before = [];
    checkPod((message) => before.push(message), podSpec);
    const spec = structuredClone(podSpec);
    const agent = agentOf(spec);
    agent.lifecycle = { ...(agent.lifecycle ?? {}), ...fragment.lifecycle };
    checkPod((message) => before.includes(message) || fail(`in the README's pod spec: ${message}`), spec);
  }
  plan(fail, command);
  return "a lifecycle fragment";
}

function checkValues(fail, text, values, line) {
  const file = join(work, `values-${line}.yaml`);
  writeFileSync(file, text);
  const result = spawnSync(options.helm, ["template", "my-agent", options.chart, "--namespace", "payments", "-f", file],
                           { encoding: "utf8" });
  if (result.status !== 0) {
    fail(`the agent chart refuses these values: ${(result.stderr || String(result.error)).trim()}`);
    return "Helm values";
  }
  const objects = parseAllDocuments(result.stdout).map((d) => d.toJS()).filter(Boolean);
  const events = values.lameduck?.prestop?.events ?? false;
  const { prestop } = checkObjects((message) => fail(`rendered: ${message}`), objects, { expectEvents: events });
  if (prestop) plan(fail, prestop);
  return "Helm values, rendered";
}

function checkDependencies(fail, fragment) {
  const library = parse(readFileSync(join(options.library, "Chart.yaml"), "utf8"));
  const entries = fragment.dependencies ?? [];
  if (!entries.some((d) => d?.name === library.name)) fail(`no dependency on the ${library.name} chart`);
  for (const entry of entries) {
    if (entry?.name !== library.name) fail(`a dependency on ${entry?.name}, which is not this repository's chart`);
    else if (entry.version !== library.version) {
      fail(`depends on ${library.name} ${entry.version}, but helm/${library.name}/Chart.yaml is ${library.version}`);
    }
  }
  return "Chart.yaml dependencies";
}

const blocks = yamlBlocks(readFileSync(options.readme, "utf8"));
const parsed = blocks.map((block) => {
  if (block.text === null) return { ...block, documents: null, errors: ["the block is never closed"] };
  const documents = parseAllDocuments(block.text);
  const errors = documents.flatMap((d) => d.errors.map((e) => e.message));
  return { ...block, documents: errors.length ? null : documents.map((d) => d.toJS()).filter(Boolean), errors };
});
const podSpec = parsed.find((b) => b.documents && isPodSpec(b.documents[0]))?.documents[0].spec;

for (const block of parsed) {
  const where = `README.md:${block.line}`;
  const fail = (message) => failures.push(`${where}: ${message}`);
  if (!block.documents) {
    fail(`not YAML: ${block.errors.join("; ")}`);
    continue;
  }
  const [first] = block.documents;
  let what;
  if (isPodSpec(first)) what = checkPodSpec(fail, block.documents);
  else if (first && block.documents.length === 1 && "lifecycle" in first) what = checkLifecycle(fail, first, podSpec);
  else if (first && block.documents.length === 1 && "lameduck" in first) what = checkValues(fail, block.text, first, block.line);
  else if (first && block.documents.length === 1 && "dependencies" in first) what = checkDependencies(fail, first);
  else {
    fail("a YAML block this test cannot tell what it is (a pod spec, a lifecycle fragment, Helm values " +
         "under lameduck:, or Chart.yaml dependencies); teach tests/helm/readme.mjs to check it");
    continue;
  }
  console.log(`readme: ${where}: ${what}: ${failures.some((f) => f.startsWith(`${where}:`)) ? "FAILED" : "ok"}`);
}
if (blocks.length === 0) failures.push("README.md has no ```yaml block: is this the right file?");
console.log(`readme: ${blocks.length} YAML blocks`);
if (failures.length > 0) {
  console.error(failures.join("\n"));
  process.exit(1);
}
