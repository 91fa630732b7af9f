// Validates SARIF logs (JSON files given as arguments) against the SARIF 2.1.0 JSON schema, with
// ajv and ajv-formats (the schema uses the uri, uri-reference, date-time and uuid formats). Prints
// one JSON line per file with what it checked.
//
//   node sarif.mjs FILE...      (FILE may be - for standard input)
//
// Exits 0 when every file is a valid SARIF 2.1.0 log; 1 when any is not, with one line per error
// (file: instance path: message) on stderr; 2 on a usage error, when a file cannot be read or is
// not JSON (the other files are still checked), or when the validators are not installed.
//
// The schema is the one Microsoft's SARIF SDK ships in @microsoft/sarif-multitool-ts
// (assets/sarif-2.1.0.schema.json, the base schema of its own `validate` verb): the SDK's copy of
// the SARIF 2.1.0 schema, declared as JSON Schema 2020-12 and without an $id, not the OASIS file
// byte for byte: the OASIS file itself is not published on npm.
//
// Like check.mjs it is run from a copy beside the node_modules that setup.sh installs, so ajv and
// the schema are found the way Node finds any package: from this file's directory upwards.

import { readFileSync } from "node:fs";

const schemaPackage = "@microsoft/sarif-multitool-ts";

function usage(message) {
  console.error(`sarif.mjs: ${message}\nusage: node sarif.mjs FILE...`);
  process.exit(2);
}

const files = [];
let optionsDone = false;
for (const arg of process.argv.slice(2)) {
  if (!optionsDone && arg === "--") {
    optionsDone = true;
  } else if (!optionsDone && arg.startsWith("-") && arg !== "-") {
    usage(`unknown option ${arg}`);
  } else {
    files.push(arg);
  }
}
if (files.length === 0) {
  usage("no SARIF file given");
}

// The package exports only its entry point, so the schema is found beside it: the entry point is
// <package>/dist/index.js and the schema <package>/assets/sarif-2.1.0.schema.json.
function loadSchema() {
  let schemaUrl;
  try {
    schemaUrl = new URL("../assets/sarif-2.1.0.schema.json", import.meta.resolve(schemaPackage));
  } catch (error) {
    throw new Error(`cannot find ${schemaPackage} (run tests/helm/setup.sh): ${error.message}`);
  }
  const schema = JSON.parse(readFileSync(schemaUrl, "utf8"));
  if (schema.title !== "Static Analysis Results Format (SARIF) Version 2.1.0 JSON Schema" ||
      JSON.stringify(schema.properties?.version?.enum) !== '["2.1.0"]') {
    throw new Error(`${schemaUrl.pathname} is not the SARIF 2.1.0 schema (title: ${schema.title})`);
  }
  return { schema, path: schemaUrl.pathname };
}

let validate;
let schemaPath;
try {
  // Imported here rather than statically so that a missing install is reported like the rest.
  const { Ajv2020 } = await import("ajv/dist/2020.js").catch((error) => {
    throw new Error(`cannot load ajv (run tests/helm/setup.sh): ${error.message}`);
  });
  const { default: addFormats } = await import("ajv-formats").catch((error) => {
    throw new Error(`cannot load ajv-formats (run tests/helm/setup.sh): ${error.message}`);
  });
  const loaded = loadSchema();
  schemaPath = loaded.path;
  // The schema is written for JSON Schema 2020-12 ($schema); allErrors reports every problem in a
  // file rather than the first. strict stays on: the schema compiles without unknown keywords.
  const ajv = new Ajv2020({ allErrors: true });
  addFormats(ajv);
  validate = ajv.compile(loaded.schema);
} catch (error) {
  console.error(`sarif.mjs: ${error.message}`);
  process.exit(2);
}

// One readable line per ajv error: where in the log, what is wrong, and with what it was compared.
function describe(error) {
  const where = error.instancePath === "" ? "/" : error.instancePath;
  let message = error.message ?? "is invalid";
  if (error.keyword === "enum") {
    message += `: ${error.params.allowedValues.map((v) => JSON.stringify(v)).join(", ")}`;
  } else if (error.keyword === "additionalProperties") {
    message += `: ${JSON.stringify(error.params.additionalProperty)}`;
  }
  return `${where}: ${message}`;
}

let unreadable = false;
let invalid = false;
const failures = [];
for (const file of files) {
  let log;
  try {
    log = JSON.parse(readFileSync(file === "-" ? 0 : file, "utf8"));
  } catch (error) {
    const why = error instanceof SyntaxError ? "not JSON" : "cannot be read";
    console.error(`${file}: ${why}: ${error.message}`);
    unreadable = true;
    continue;
  }
  const valid = validate(log);
  const errors = valid ? [] : [...new Set(validate.errors.map(describe))];
  const runs = Array.isArray(log?.runs) ? log.runs : [];
  const results = runs.reduce((n, run) => n + (Array.isArray(run?.results) ? run.results.length : 0), 0);
  console.log(JSON.stringify({ file, valid, runs: runs.length, results, errors: errors.length }));
  if (!valid) {
    invalid = true;
    for (const line of errors) failures.push(`${file}: ${line}`);
  }
}
if (failures.length > 0) {
  console.error(`SARIF 2.1.0 schema (${schemaPath}) violations:\n${failures.join("\n")}`);
}
// exitCode rather than exit(): lets stdout drain when it is a pipe.
process.exitCode = unreadable ? 2 : invalid ? 1 : 0;
