#!/usr/bin/env bash
# The Helm charts, checked by the real helm and Kubernetes' own schemas:
#   lint --strict; render with defaults and with every tests/helm/values/*.yaml; validate each
#   rendered object (tests/helm/check.mjs); wrong values refused by the schema with a clear
#   message; prestop's rendered command line accepted by the real prestop (--plan); and
#   deploy/examples/ equal to a fresh render; and every render linted clean by lameduck lint,
#   whose SARIF validates against the SARIF 2.1.0 schema, also run as the kubectl plugin.
#
#   tests/helm/run.sh PATH_TO_PRESTOP PATH_TO_LAMEDUCK
set -euo pipefail

prestop=${1:?usage: run.sh PATH_TO_PRESTOP PATH_TO_LAMEDUCK}
lameduck=$(realpath "${2:?usage: run.sh PATH_TO_PRESTOP PATH_TO_LAMEDUCK}")
source "$(dirname "${BASH_SOURCE[0]}")/workspace.sh"

failed=0
check() { printf 'helm: %s\n' "$*"; }
fail() { printf 'helm: FAILED: %s\n' "$*" >&2; failed=1; }

"$helm" lint --strict "$chart" >/dev/null || fail "helm lint --strict lameduck-agent"
"$helm" lint --strict "$work/helm/lameduck" >/dev/null || fail "helm lint --strict lameduck"
check "lint --strict: both charts"

render() { "$helm" template my-agent "$chart" --namespace payments "$@"; }

declare -a rendered=()
render >"$work/defaults.yaml"
rendered+=("$work/defaults.yaml")
for values in "$here"/values/*.yaml; do
  name=$(basename "$values" .yaml)
  render -f "$values" >"$work/$name.yaml"
  rendered+=("$work/$name.yaml")
done

for file in "${rendered[@]}"; do
  events=off
  [ "$(basename "$file")" = events-on.yaml ] && events=on
  if ! line=$(node "$validators/check.mjs" --expect-events "$events" "$file"); then
    fail "check.mjs $(basename "$file")"
    continue
  fi
  # prestop's own parser must accept the rendered command line and environment.
  mapfile -t command < <(node -e 'for (const a of JSON.parse(process.argv[1]).prestop.slice(1)) console.log(a)' "$line")
  if ! plan=$(POD_NAME=my-agent-0 POD_NAMESPACE=payments POD_UID=uid-0 POD_IPS=10.0.0.7 \
              "$prestop" "${command[@]}" --plan 2>&1); then
    fail "prestop rejects the command rendered with $(basename "$file"): $plan"
  fi
  grep -q '^prestop plan: deadline' <<<"$plan" || fail "prestop --plan said: $plan"
done
check "rendered and validated: ${#rendered[@]} value sets, each accepted by prestop --plan"

expect_refusal() {
  local why=$1 message=$2; shift 2
  local output
  if output=$(render "$@" 2>&1); then
    fail "the schema accepted $why"
  elif ! grep -qF -- "$message" <<<"$output"; then
    fail "refusing $why, helm said: $output"
  fi
}
expect_refusal "a string for replicas" "at '/replicas': got string, want integer" --set replicas=two
expect_refusal "a drain step of no known kind" "drainSteps/0" --set 'lameduck.prestop.drainSteps[0]=kill:nginx'
expect_refusal "an unknown key" "additional properties 'replica' not allowed" --set replica=3
expect_refusal "a duration that is not one" "at '/lameduck/prestop/minDelay'" --set lameduck.prestop.minDelay=soon
expect_refusal "a negative grace period" "at '/lameduck/gracePeriodSeconds'" --set lameduck.gracePeriodSeconds=-5
expect_refusal "a misspelt library value" "additional properties 'minDelai' not allowed" --set lameduck.prestop.minDelai=2s
check "schema: 5 kinds of wrong values refused with a message naming them"

if ! diff -u "$root/deploy/examples/lameduck-agent.yaml" "$work/defaults.yaml" >"$work/examples.diff"; then
  fail "deploy/examples/lameduck-agent.yaml is not the chart rendered with defaults; regenerate it with:
  tests/helm/render-examples.sh"
  head -n 20 "$work/examples.diff" >&2
fi
check "deploy/examples/ matches a fresh render"

# lameduck lint: what the chart renders, with every value set, has nothing to report (not even
# info), read from files and from standard input as `helm template ... | lameduck lint -` does.
for file in "${rendered[@]}" "$root/deploy/examples/lameduck-agent.yaml"; do
  if ! report=$("$lameduck" lint --fail-on info "$file" 2>&1) || [[ "$report" != "0 errors, 0 warnings, 0 info in "* ]]; then
    fail "lameduck lint on $(basename "$file"): $report"
  fi
done
report=$(render | "$lameduck" lint --fail-on info - 2>&1) || fail "helm template | lameduck lint -: $report"
check "lameduck lint: ${#rendered[@]} renders and deploy/examples are clean"

# README.md's "Lint your manifests" shows the report of its command: it must be what it prints.
shown=$(node -e 'const s = require("fs").readFileSync(process.argv[1], "utf8");
  const from = s.indexOf("prints, and exits 1:\n\n") + 22, to = s.indexOf("\nExit 0 means clean", from);
  console.log(s.slice(from, to).trimEnd().split("\n").map(l => l.slice(4)).join("\n"))' "$root/README.md")
status=0
printed=$("$helm" template my-agent "$chart" --set lameduck.prestop.minDelay=1s | "$lameduck" lint --fail-on warning -) ||
  status=$?
[ "$status" = 1 ] && [ "$printed" = "$shown" ] || fail "README's lint report is not what lameduck lint prints (exit $status):
$(diff <(echo "$shown") <(echo "$printed"))"
check "README: the lint report shown is the one printed"

# Its SARIF, with findings of every rule, a silenced one and an input error, is valid SARIF 2.1.0.
(cd "$root/tests/lint" && "$lameduck" lint --output sarif rules/*/*.yaml input/broken-document/input.yaml) \
  >"$work/findings.sarif" && fail "lameduck lint exit 0 on the rules' bad manifests"
node "$validators/sarif.mjs" "$work/findings.sarif" >/dev/null || fail "the SARIF log does not validate"
results=$(node -e 'const l = JSON.parse(require("fs").readFileSync(process.argv[1])); const r = l.runs[0];
  console.log(new Set(r.results.map(x => x.ruleId)).size, r.results.filter(x => x.suppressions).length,
              r.invocations[0].toolExecutionNotifications.length)' "$work/findings.sarif")
[ "$results" = "13 1 1" ] || fail "SARIF: rules with results, suppressed results, notifications: $results, not 13 1 1"
check "lameduck lint --output sarif: valid SARIF 2.1.0 ($results: rules, suppressed, input errors)"

# As the kubectl plugin kubectl-lameduck, found on PATH by the real kubectl.
kubectl=$(command -v kubectl || echo "$root/.deps/kubectl/kubectl")
mkdir -p "$work/plugins"
ln -s "$lameduck" "$work/plugins/kubectl-lameduck"
bad="$root/tests/lint/rules/rollout-to-zero/bad.yaml"
direct=$("$lameduck" lint --color never "$bad" 2>&1; echo "exit $?")
plugin=$(PATH="$work/plugins:$PATH" "$kubectl" lameduck lint --color never "$bad" 2>&1; echo "exit $?")
[ "$plugin" = "$direct" ] || fail "kubectl lameduck lint printed: $plugin"
check "kubectl lameduck lint: the plugin reports what lameduck lint does ($(tail -n 1 <<<"$plugin"))"
exit "$failed"
