// Checks rendered manifests (multi-document YAML files given as arguments) with checks.mjs:
// Kubernetes' own schemas, the Pod Security Standard "restricted" profile on every container,
// prestop's --grace-period against terminationGracePeriodSeconds, the toolkit's volumes and
// paths, and the RBAC rules prestop needs. Prints one JSON line per file with what it checked;
// exits 1 with the reasons when any check failed.
//
//   node check.mjs [--expect-events on|off] FILE...

import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";
import { checkObjects } from "./checks.mjs";

const failures = [];

let expectEvents = null;
const files = [];
for (let i = 2; i < process.argv.length; i++) {
  if (process.argv[i] === "--expect-events") {
    expectEvents = process.argv[++i] === "on";
  } else {
    files.push(process.argv[i]);
  }
}

for (const file of files) {
  const objects = parseAllDocuments(readFileSync(file, "utf8")).map((d) => d.toJS()).filter(Boolean);
  const fail = (message) => failures.push(`${file}: ${message}`);
  const { kinds, prestop } = checkObjects(fail, objects, { expectEvents });
  console.log(JSON.stringify({ file, kinds, prestop }));
}
if (failures.length > 0) {
  console.error(failures.join("\n"));
  process.exit(1);
}
