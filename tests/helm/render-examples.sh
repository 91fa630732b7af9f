#!/usr/bin/env bash
# Writes deploy/examples/lameduck-agent.yaml: the agent chart rendered with its defaults, for
# people without Helm. tests/helm/run.sh fails when it is out of date.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
bash "$root/tests/helm/setup.sh"
helm=$(ls -d "$root"/.deps/helm-v*/helm | head -n 1)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$root/helm" "$work/helm"
"$helm" dependency build "$work/helm/lameduck-agent" >/dev/null
mkdir -p "$root/deploy/examples"
"$helm" template my-agent "$work/helm/lameduck-agent" --namespace payments >"$root/deploy/examples/lameduck-agent.yaml"
