#!/usr/bin/env bash
# The Helm charts, checked by the real helm and Kubernetes' own schemas:
#   lint --strict; render with defaults and with every tests/helm/values/*.yaml; validate each
#   rendered object (tests/helm/check.mjs); wrong values refused by the schema with a clear
#   message; prestop's rendered command line accepted by the real prestop (--plan); and
#   deploy/examples/ equal to a fresh render.
#
#   tests/helm/run.sh PATH_TO_PRESTOP
set -euo pipefail

prestop=${1:?usage: run.sh PATH_TO_PRESTOP}
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
exit "$failed"
