#!/usr/bin/env bash
# README.md's YAML snippets, checked like the charts' renders: every ```yaml block is a pod
# spec, a lifecycle fragment, Helm values or Chart.yaml dependencies, and is validated as one
# (tests/helm/readme.mjs); a block of any other kind fails the test.
#
#   tests/helm/readme.sh PATH_TO_PRESTOP
set -euo pipefail

prestop=${1:?usage: readme.sh PATH_TO_PRESTOP}
source "$(dirname "${BASH_SOURCE[0]}")/workspace.sh"

node "$validators/readme.mjs" --readme "$root/README.md" --chart "$chart" \
  --library "$work/helm/lameduck" --helm "$helm" --prestop "$prestop"
