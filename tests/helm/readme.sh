#!/usr/bin/env bash
# README.md's YAML snippets, checked like the charts' renders: every ```yaml block is a pod
# spec, a lifecycle fragment, Helm values or Chart.yaml dependencies, and is validated as one
# (tests/helm/readme.mjs); a block of any other kind fails the test.
#
#   tests/helm/readme.sh PATH_TO_PRESTOP
set -euo pipefail

prestop=${1:?usage: readme.sh PATH_TO_PRESTOP}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
here="$root/tests/helm"
bash "$here/setup.sh"
helm=$(ls -d "$root"/.deps/helm-v*/helm | head -n 1)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The checks run from this run's own copy (the chart and README tests may run side by side),
# beside the validators that setup.sh installed.
validators="$work/checks"
mkdir "$validators"
cp "$here"/*.mjs "$validators/"
ln -s "$root/.deps/helm-tests/node_modules" "$validators/node_modules"
# Render from a copy: `helm dependency build` writes charts/ into the chart it builds.
cp -r "$root/helm" "$work/helm"
"$helm" dependency build "$work/helm/lameduck-agent" >/dev/null

node "$validators/readme.mjs" --readme "$root/README.md" --chart "$work/helm/lameduck-agent" \
  --library "$work/helm/lameduck" --helm "$helm" --prestop "$prestop"
