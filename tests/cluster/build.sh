#!/usr/bin/env bash
# Builds the pinned Kubernetes servers and etcd from their Go modules, once per pin: the
# binaries go to a directory named after the two versions go.mod pins, outside the source
# tree, and a later run with the same pins reuses them. Prints that directory.
#
#   tests/cluster/build.sh [CACHE_DIR]     (default: $LAMEDUCK_CACHE or ~/.cache/lameduck)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${1:-${LAMEDUCK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/lameduck}}
kube_version=$(awk '$1 == "k8s.io/kubernetes" { print $2; exit }' "$here/go.mod")
etcd_version=$(awk '$1 == "go.etcd.io/etcd/server/v3" { print $2; exit }' "$here/go.mod")
out="$cache/kubernetes-$kube_version-etcd-$etcd_version"
binaries=(etcd kube-apiserver kube-controller-manager kube-scheduler kubectl kubelet kube-proxy)

log() { printf '\033[1mcluster:\033[0m %s\n' "$*" >&2; }

built() {
  local name
  for name in "${binaries[@]}"; do [ -x "$out/$name" ] || return 1; done
}

if built; then echo "$out"; exit 0; fi
case ":$PATH:" in *:/usr/local/go/bin:*) ;; *) PATH=$PATH:/usr/local/go/bin ;; esac
command -v go >/dev/null || { log "go is not on PATH (Go 1.25 or newer builds the cluster)"; exit 1; }

# The version the servers report: without it they say v0.0.0-master and version-skew checks
# between them misfire.
minor=$(echo "$kube_version" | cut -d. -f2)
stamp="-s -w"
for var in "gitVersion=$kube_version" gitMajor=1 "gitMinor=$minor" gitTreeState=clean \
           "buildDate=1970-01-01T00:00:00Z"; do
  stamp+=" -X k8s.io/component-base/version.$var"
done

# What an earlier build of the same pins has (before a binary was added to the list) is kept.
if [ -d "$out" ] && [ ! -d "$out.partial" ]; then mv "$out" "$out.partial"; fi
mkdir -p "$out.partial"
started=$(date +%s)
cd "$here"
export CGO_ENABLED=0
for name in "${binaries[@]}"; do
  [ -x "$out.partial/$name" ] && continue
  log "building $name $kube_version (the first build takes a while; later runs reuse it)"
  case "$name" in
    etcd) go build -trimpath -buildvcs=false -ldflags "-s -w" -o "$out.partial/$name" go.etcd.io/etcd/server/v3 ;;
    *) go build -trimpath -buildvcs=false -ldflags "$stamp" -o "$out.partial/$name" "k8s.io/kubernetes/cmd/$name" ;;
  esac
done
rm -rf "$out"
mv "$out.partial" "$out"
log "built in $(( $(date +%s) - started )) s into $out"
echo "$out"
